"""Bronze on file names as people give them: spaces, +, parentheses, accents, % and globs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb

from medallion.local.jobrunner import JobResult

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
LINE = "5363{n},85123A,MUG,6,12/1/2010 8:26,2.55,17850,France"
# Each name is one Spark's _metadata.file_path percent-encodes, or one a careless decoding
# would change: + is not a space, and a literal %41 or %20 is not A or a space.
NAMES = [
    "Order Export.csv",
    "x+y (1).csv",
    "café über.csv",
    "literal %2041 %41 50%.csv",
    "glob [1] {a}.csv",
]


def data_lines(path: Path) -> int:
    """The file's data lines, counted by Python: every non-empty line after the header."""
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines()[1:] if line)


def local_path(uri: str) -> Path:
    assert uri.startswith("file:/"), uri
    return Path(uri.removeprefix("file:"))


def test_files_with_unusual_names_are_counted_and_recorded_by_their_real_name(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    folder = landing / "order_lines"
    folder.mkdir(parents=True)
    for i, name in enumerate(NAMES):
        lines = [HEADER, *[LINE.format(n=f"{i}{j}") for j in range(i + 1)]]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = job_runner(
        "bronze",
        {"lake_root": str(lake), "run_id": "r1", "landing_root": str(landing),
         "datasets": "order_lines"},
    )  # fmt: skip

    assert result.state == "SUCCEEDED", result.error_message
    entries = [
        json.loads(line)
        for path in (lake / "_meta" / "ingested" / "order_lines").glob("*.json")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    recorded = {local_path(e["path"]): e for e in entries}
    assert set(recorded) == {folder / name for name in NAMES}
    for path, entry in recorded.items():
        assert (entry["status"], entry["rows"]) == ("ingested", data_lines(path)), path.name
    bronze = duckdb.sql(
        f"select _ingest_file, count(*) as n from read_parquet("
        f"'{lake}/bronze/order_lines/**/*.parquet') group by _ingest_file"
    ).fetchall()
    assert {local_path(file): n for file, n in bronze} == {
        path: data_lines(path) for path in recorded
    }
    assert result.summary["datasets"]["order_lines"]["rows"] == sum(range(1, len(NAMES) + 1))
