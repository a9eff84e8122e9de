"""A stand-in for a layer's Glue script in orchestration tests: no JVM, a tiny Parquet file.

Usage: standin_job.py <layer> --lake_root DIR --run_id ID [...]. The environment variable
MEDALLION_STANDIN_FAIL names a layer that fails the way a real job does.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    layer = sys.argv[1]
    args = dict(zip(sys.argv[2::2], sys.argv[3::2], strict=False))
    if os.environ.get("MEDALLION_STANDIN_FAIL") == layer:
        print(f"{layer}: working", flush=True)
        print(
            f"MEDALLION_ERROR {layer} job failed: QualityGateError: rule order_lines.row_count "
            "failed: 12 of 500 rows (2.4% > 1.0%)",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(1)
    lake = Path(args["--lake_root"])
    folder = lake / layer / "sample" / "day=2024-01-01"
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": [1, 2, 3], "amount": [1.5, 2.5, 3.5]})
    pq.write_table(table, folder / "part-0.parquet")
    summary = {"run_id": args["--run_id"], "arguments": args, "datasets": {"sample": {"rows": 3}}}
    if layer == "silver":
        summary["datasets"] = {"sample": {"rows_in": 3, "rows_silver": 3}}
    if layer == "gold":
        summary = {"run_id": args["--run_id"], "arguments": args, "marts": {"sample": 3}}
    print("MEDALLION_SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
