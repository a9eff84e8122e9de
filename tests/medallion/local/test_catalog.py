"""The local catalog: registering layers like a crawler, translating and running Athena SQL."""

from __future__ import annotations

import multiprocessing
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboard.demo_lake import DemoLake, build_demo_lake  # noqa: E402
from jobs.common import records  # noqa: E402
from medallion.aws.athena import QueryError  # noqa: E402
from medallion.local import catalog  # noqa: E402
from medallion.local.catalog import Column  # noqa: E402


@pytest.fixture
def lake(tmp_path: Path) -> DemoLake:
    return build_demo_lake(tmp_path / "lake")


def test_catalog_file_lives_in_the_lake(lake: DemoLake) -> None:
    catalog.register_layer(str(lake.root), "gold")
    assert catalog.catalog_path(str(lake.root)) == lake.root / "_catalog" / "catalog.duckdb"
    assert catalog.catalog_path(str(lake.root)).is_file()


def test_silver_partitions_are_registered_as_strings(lake: DemoLake) -> None:
    [table] = catalog.register_layer(str(lake.root), "silver")
    assert (table.database, table.name, table.format) == ("silver", "order_lines", "parquet")
    assert table.partition_keys == ["year", "month", "day"]
    assert table.partitions == [
        {"year": "2024", "month": "1", "day": "1"},
        {"year": "2024", "month": "1", "day": "2"},
    ]
    assert table.columns == [
        Column("invoice_no", "string"),
        Column("stock_code", "string"),
        Column("quantity", "int"),
        Column("customer_id", "bigint"),
    ]
    rows = catalog.execute(
        str(lake.root),
        "select day, count(*) as n from order_lines group by day order by day",
        database="silver",
    )
    # partition values are strings, as a Glue crawler types them; Spark's _SUCCESS is no row
    assert rows.to_dict("list") == {"day": ["1", "2"], "n": [2, 1]}


def test_gold_marts_keep_their_types(lake: DemoLake) -> None:
    tables = {t.name: t for t in catalog.register_layer(str(lake.root), "gold")}
    assert set(tables) == set(lake.marts)
    sales = tables["sales_daily"]
    assert sales.partition_keys == [] and sales.partitions == []
    types = {c.name: c.type for c in sales.columns}
    assert types["sales_date"] == "date" and types["net_revenue"] == "decimal(18,2)"
    assert types["orders"] == "bigint" and types["country"] == "string"


def test_quality_records_are_gold_tables(lake: DemoLake) -> None:
    tables = {t.name: t for t in catalog.register_layer(str(lake.root), "quality")}
    assert set(tables) == {"quality_results", "quality_runs"}
    assert all(t.database == "gold" and t.format == "json" for t in tables.values())
    # dataset and run_id are columns of the records, so they are no partition keys
    assert all(t.partition_keys == [] for t in tables.values())
    runs = {c.name: c.type for c in tables["quality_runs"].columns}
    assert runs["failed_rules"] == "array<string>" and runs["rows_in"] == "bigint"
    n = catalog.execute(str(lake.root), "select count(*) as n from quality_results").n[0]
    assert n == len(lake.quality_results)
    assert list(records.TABLES) == list(tables)
    assert [c.name for c in tables["quality_runs"].columns] == records.TABLES[
        "quality_runs"
    ].column_names


def test_a_removed_mart_is_dropped_and_views_survive_reregistering(lake: DemoLake) -> None:
    root = str(lake.root)
    catalog.register_layer(root, "gold")
    catalog.register_layer(root, "quality")
    catalog.create_views(root)
    shutil.rmtree(lake.root / "gold" / "customer_lifetime")
    names = {t.name for t in catalog.register_layer(root, "gold")}
    assert "customer_lifetime" not in names
    listed = catalog.list_tables(root)
    assert "customer_lifetime" not in set(listed.name)
    assert {"v_monthly_revenue", "quality_runs"} <= set(listed.name)
    assert len(catalog.execute(root, "select * from v_monthly_revenue")) > 0


def test_first_query_builds_the_catalog(lake: DemoLake) -> None:
    assert not catalog.catalog_path(str(lake.root)).exists()
    got = catalog.execute(str(lake.root), "select count(*) as n from v_customer_segments")
    assert got.n[0] == lake.marts["customer_rfm"].segment.nunique()


def test_create_or_replace_view_in_athena_sql(lake: DemoLake) -> None:
    root = str(lake.root)
    catalog.register_layer(root, "gold")
    catalog.execute(
        root,
        "CREATE OR REPLACE VIEW gold.v_big_orders AS "
        "select sales_date, country from sales_daily where orders > 30",
    )
    expected = (lake.marts["sales_daily"].orders > 30).sum()
    assert len(catalog.execute(root, "select * from v_big_orders")) == expected


def test_translate_is_athena_to_duckdb() -> None:
    assert catalog.translate("select 7 / 2") == "SELECT CAST(TRUNC(7 / 2) AS BIGINT)"
    assert "INTERVAL" in catalog.translate("select date_add('day', 1, d) from t")


def test_parse_errors_have_line_and_column() -> None:
    with pytest.raises(QueryError) as info:
        catalog.translate("select a,\n  from t where")
    # the position of the token's first character, as Trino reports it
    assert str(info.value) == "line 2:10: syntax error: incomplete WHERE expression near 'where'"


def test_duckdb_errors_point_into_the_original_sql(lake: DemoLake) -> None:
    with pytest.raises(QueryError) as info:
        catalog.execute(str(lake.root), "select\n  country,\n  revenu\nfrom sales_daily")
    assert (info.value.line, info.value.column) == (3, 3)
    assert "revenu" in str(info.value) and "\n" not in str(info.value)


def test_unknown_database_and_s3_lakes_are_refused(lake: DemoLake) -> None:
    with pytest.raises(QueryError, match="database 'platinum' does not exist"):
        catalog.execute(str(lake.root), "select 1", database="platinum")
    with pytest.raises(QueryError, match="local lake directory"):
        catalog.execute("s3://bucket", "select 1")


def _hammer(root: str, worker: int) -> None:
    for _ in range(4):
        if worker % 2:
            catalog.register_layer(root, "gold")
        assert len(catalog.execute(root, "select * from customer_rfm")) == 120


def test_processes_share_the_catalog_file(lake: DemoLake) -> None:
    root = str(lake.root)
    catalog.register_layer(root, "gold")
    # fork: the children start at once; the parent holds no open DuckDB connection
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_hammer, args=(root, i)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]


def test_bronze_columns_are_named_as_glue_names_them(tmp_path: Path) -> None:
    part = tmp_path / "bronze" / "order_lines" / "ingest_date=2024-01-01" / "run_id=r1"
    part.mkdir(parents=True)
    pd.DataFrame({"InvoiceNo": ["536365"], "_corrupt_record": [None]}).to_parquet(
        part / "part-00000.parquet"
    )
    [table] = catalog.register_layer(str(tmp_path), "bronze")
    assert [c.name for c in table.columns] == ["invoiceno", "_corrupt_record"]
    assert table.partitions == [{"ingest_date": "2024-01-01", "run_id": "r1"}]
    got = catalog.execute(
        str(tmp_path), "select invoiceno, ingest_date from order_lines", database="bronze"
    )
    assert got.values.tolist() == [["536365", "2024-01-01"]]
