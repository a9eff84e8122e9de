"""The README's database path on a laptop, as a user types it: ``medallion generate --postgres``
then ``medallion run --contracts sample/database-contracts``, twice, with rows added between."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from medallion.sample.pgserver import LocalPostgres

pytestmark = pytest.mark.slow

MEDALLION = [sys.executable, "-c", "from medallion.cli import app; app(prog_name='medallion')"]
DATASETS = ("order_lines", "customers", "products", "inventory", "reviews")


def medallion(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*MEDALLION, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"medallion {args[0]}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout + done.stderr


def bronze_rows(lake: Path, dataset: str) -> int:
    files = f"{lake}/bronze/{dataset}/**/*.parquet"
    return int(duckdb.sql(f"select count(*) from read_parquet('{files}')").fetchone()[0])  # type: ignore[index]


def test_generate_then_run_takes_every_row_then_only_the_new_ones(
    postgres: LocalPostgres, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDALLION_")}
    env["MEDALLION_DB_URL"] = postgres.url()
    out = medallion(tmp_path, env, "generate", "--postgres", postgres.url(), "--order-lines", "600")
    assert postgres.password not in out
    first = medallion(tmp_path, env, "run", "--contracts", "sample/database-contracts")
    assert "execution SUCCEEDED" in first and postgres.password not in first
    lake = tmp_path / "lake"
    counted = {
        d: int(str(postgres.execute(f"SELECT count(*) FROM retail.{d}")[0][0])) for d in DATASETS
    }
    assert {d: bronze_rows(lake, d) for d in DATASETS} == counted
    # Each table's row_id (the contracts' watermark, which they do not name) is no drift.
    silver_log = "".join(p.read_text() for p in (lake / "_meta" / "logs").glob("*/silver.log"))
    assert "order_lines" in silver_log and "schema drift" not in silver_log

    # two new order lines, as the shop's database would commit them
    postgres.execute(
        'INSERT INTO retail.order_lines ("InvoiceNo", "StockCode", "Description", "Quantity", '
        '"InvoiceDate", "UnitPrice", "CustomerID", "Country") '
        'SELECT \'999\' || row_id, "StockCode", "Description", "Quantity", "InvoiceDate", '
        '"UnitPrice", "CustomerID", "Country" FROM retail.order_lines '
        "WHERE \"InvoiceNo\" ~ '^[0-9]+$' AND \"CustomerID\" <> '' ORDER BY row_id LIMIT 2"
    )
    silver_before = duckdb.sql(
        f"select count(*) from read_parquet('{lake}/silver/order_lines/**/*.parquet')"
    ).fetchone()
    second = medallion(tmp_path, env, "run", "--contracts", "sample/database-contracts")
    assert "execution SUCCEEDED" in second
    assert bronze_rows(lake, "order_lines") == counted["order_lines"] + 2
    for dataset in DATASETS[1:]:
        assert bronze_rows(lake, dataset) == counted[dataset]
    silver_after = duckdb.sql(
        f"select count(*) from read_parquet('{lake}/silver/order_lines/**/*.parquet')"
    ).fetchone()
    assert silver_before is not None and silver_after is not None
    assert silver_after[0] == silver_before[0] + 2
