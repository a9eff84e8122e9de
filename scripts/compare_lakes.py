"""Compare two lakes built from the same landing data: the same silver, quarantine, quality, gold?

Used to show that a change of code, not of behaviour, gives the same data: run the pipeline on
the same generated landing folder before and after (same ``--run-id``), then

    .venv/bin/python scripts/compare_lakes.py LAKE_BEFORE LAKE_AFTER

Columns that record when something happened (ingest and start times) or where (absolute paths)
differ between any two runs and are left out; every other column of every row must match. Prints
one line per table and exits 1 when any differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pandas as pd

LAYERS = ("silver", "quarantine", "gold")
QUALITY = ("quality/results", "quality/runs")
# When or where, not what: these differ between two runs of the same data.
VOLATILE = {
    "_ingest_ts",
    "_ingested_at",
    "_ingest_at",
    "ingested_at",
    "started_at",
    "finished_at",
    "checked_at",
    "evaluated_at",
    "quarantined_at",
    "ingest_date",
    "_ingest_file",
    "source_file",
    "seconds",
}


def tables(lake: Path) -> dict[str, list[Path]]:
    """Table name (``layer/name``) to its data files."""
    found: dict[str, list[Path]] = {}
    for layer in LAYERS:
        for table in sorted(p for p in (lake / layer).glob("*") if p.is_dir()):
            files = [
                f
                for f in table.rglob("*.parquet")
                if not any(part.startswith((".", "_")) for part in f.relative_to(table).parts)
            ]
            found[f"{layer}/{table.name}"] = files
    for folder in QUALITY:
        found[folder] = sorted((lake / folder).rglob("*.json"))
    return found


def read(files: list[Path]) -> pd.DataFrame:
    if not files:
        return pd.DataFrame()
    paths = [str(f) for f in files]
    con = duckdb.connect()
    if paths[0].endswith(".json"):
        frame = con.execute(
            "SELECT * FROM read_json(?, format = 'newline_delimited', union_by_name = true)",
            [paths],
        ).df()
    else:
        frame = con.execute(
            "SELECT * FROM read_parquet(?, hive_partitioning = true, union_by_name = true)",
            [paths],
        ).df()
    keep = [c for c in frame.columns if c not in VOLATILE]
    frame = frame[keep].astype(str)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def compare(before: Path, after: Path) -> bool:
    left, right = tables(before), tables(after)
    same = True
    for name in sorted(set(left) | set(right)):
        a, b = read(left.get(name, [])), read(right.get(name, []))
        if list(a.columns) != list(b.columns):
            print(f"DIFFERENT {name}: columns {list(a.columns)} != {list(b.columns)}")
            same = False
        elif not a.equals(b):
            print(f"DIFFERENT {name}: {len(a)} rows before, {len(b)} after")
            same = False
        else:
            print(f"same      {name}: {len(a)} rows")
    return same


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(0 if compare(Path(sys.argv[1]), Path(sys.argv[2])) else 1)
