"""The benchmarks of benchmarks/ at a tiny size: they run, and they measure the same work.

The DuckDB equivalent is checked against the generator's own counts (silver) and against the
pipeline's gold on the same landing files; the incremental benchmark's two runs are checked
against the DuckDB equivalent's gold computed from scratch over history plus the delivery. Both
use the session's pipeline lake (tests/conftest.py) as their history.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import duckdb_equivalent  # noqa: E402
import duckdb_marts  # noqa: E402
import incremental_benchmark  # noqa: E402
from delivery import DELIVERY_DAY, DELIVERY_NAME  # noqa: E402

from medallion.sample.manifest import Manifest  # noqa: E402

pytestmark = pytest.mark.slow


def test_duckdb_equivalent_does_the_pipelines_work(pipeline_lake: Path, tmp_path: Path) -> None:
    """On the session lake's landing files: DuckDB's silver counts are the generator's, and its
    gold totals are the pipeline's (revenue by day, RFM segments and scores, products, stock,
    lifetimes, cohorts)."""
    landing = pipeline_lake.parent / "landing"
    result = duckdb_equivalent.run_all(landing, tmp_path / "duckdb")
    expected = Manifest.read(landing).expected
    for dataset, counts in expected.items():
        got = result["silver"][dataset]
        assert (got["rows_in"], got["rows_silver"]) == (counts.rows_in, counts.rows_silver)
        assert (got["rows_quarantined"], got["rows_duplicate"]) == (
            counts.quarantined,
            counts.duplicates,
        ), dataset
    totals = duckdb_marts.gold_totals(tmp_path / "duckdb")
    assert len(totals["revenue by day"]) > 100 and len(totals["RFM scores"]) > 40
    same = duckdb_marts.compare_gold(pipeline_lake, tmp_path / "duckdb")
    assert same == {name: True for name in duckdb_marts.GOLD_TOTALS}, same


def delivery_day_lines(delivery: Path) -> list[list[str]]:
    """The delivery's order lines dated on the delivery day (well-formed lines only)."""
    path = delivery / "order_lines" / DELIVERY_NAME
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))[1:]
    year, month, day = DELIVERY_DAY
    return [r for r in rows if len(r) == 8 and r[4].startswith(f"{month}/{day}/{year} ")]


def test_incremental_benchmark_lands_one_day(
    pipeline_lake: Path, copy_lake: Callable[[Path], Path], tmp_path: Path
) -> None:
    """The session's lake stands in for a built history (the benchmark's cache layout: the
    history's landing, its lake, base.json); the benchmark makes the day's delivery, times
    ``medallion run`` and ``--full-refresh`` on copies, and both runs' gold is what DuckDB
    computes from scratch over the history's files plus the delivery's."""
    workdir = tmp_path / "bench"
    home = workdir / "history-3000"
    shutil.copytree(pipeline_lake.parent / "landing", home / "landing")
    copy_lake(home / "base")
    stand_in = {"seconds": 0.0, "peak_gib": 0.0, "states": {}, "gold": {}, "bronze_rows": 0}
    (home / "base.json").write_text(json.dumps({"order_lines": 3000, "build": stand_in}))
    figures = tmp_path / "figures.json"
    incremental_benchmark.main(
        # The session lake's landing is the generator's own, as a dense history's is.
        ["--sizes", "3000", "--workdir", str(workdir), "--json", str(figures), "--history", "dense"]
    )
    (result,) = json.loads(figures.read_text(encoding="utf-8"))
    inc, full = result["incremental"], result["full"]
    assert inc["bronze_rows"] == full["bronze_rows"] == 650 + 12 + 6
    assert result["ratio"] == pytest.approx(inc["seconds"] / full["seconds"], abs=1e-3)
    lines = delivery_day_lines(home / "delivery")
    assert 600 <= len(lines) <= 650
    assert {r[0].removeprefix("C") for r in lines} <= {str(n) for n in range(990_000, 991_000)}
    everything = tmp_path / "landing"
    shutil.copytree(home / "landing", everything)
    for path in (home / "delivery").rglob("*.csv"):
        shutil.copy(path, everything / path.relative_to(home / "delivery"))
    duckdb_equivalent.run_all(everything, tmp_path / "duckdb")
    for name in ("incremental", "full"):
        same = duckdb_marts.compare_gold(home / "runs" / name, tmp_path / "duckdb")
        assert same == {mart: True for mart in duckdb_marts.GOLD_TOTALS}, (name, same)
    days = duckdb_marts.gold_totals(home / "runs" / "incremental")["revenue by day"]
    orders = {str(day): n for day, _gross, _cancelled, _net, n, _units in days}
    sale_invoices = {r[0] for r in lines if not r[0].startswith("C")}
    # A defective line can remove an invoice only where it was the invoice's one line.
    assert len(sale_invoices) - 3 <= orders["2011-12-12"] <= len(sale_invoices)
    if "rows_read" in inc["gold"] and "rows_read" in full["gold"]:  # incremental gold's record
        assert inc["gold"]["rows_read"] < full["gold"]["rows_read"]
