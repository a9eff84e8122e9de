"""A stand-in for a layer's Glue script in orchestration tests: no JVM, a tiny Parquet file.

Usage: standin_job.py <layer> --lake_root DIR --run_id ID [...]. The environment variable
MEDALLION_STANDIN_FAIL names a layer that fails the way a real job does. Bronze writes the run's
notice as the bronze job does (``jobs.bronze.notice``): MEDALLION_STANDIN_REFUSED, a JSON object
of landing path to reason, names the files it did not read; MEDALLION_STANDIN_NO_NOTICE=1 writes
none (a lake bronze wrote before notices).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.bronze.notice import notice
from jobs.common.lake import LakePaths


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
    if layer == "bronze" and not os.environ.get("MEDALLION_STANDIN_NO_NOTICE"):
        refused = json.loads(os.environ.get("MEDALLION_STANDIN_REFUSED") or "{}")
        datasets = {"order_lines": {"rows": 3, "refused": refused}}
        told = notice(args["--run_id"], datasets)
        key = Path(LakePaths(str(lake)).bronze_notice(args["--run_id"]))
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(json.dumps(told), encoding="utf-8")
    if layer == "silver":
        summary["datasets"] = {"sample": {"rows_in": 3, "rows_silver": 3}}
    if layer == "gold":
        summary = {"run_id": args["--run_id"], "arguments": args, "marts": {"sample": 3}}
    print("MEDALLION_SUMMARY " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
