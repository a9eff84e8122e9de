"""The local catalog: registering layers like a crawler, translating and running Athena SQL."""

from __future__ import annotations

import json
import multiprocessing
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from jobs.common import records  # noqa: E402
from medallion.aws.athena import QueryError  # noqa: E402
from medallion.local import catalog  # noqa: E402
from medallion.local.catalog import Column  # noqa: E402
from medallion.spec.views import view_statements  # noqa: E402

# the tests of registering data read the lake of one real pipeline run (tests/conftest.py)
slow = pytest.mark.slow


def glue_type(t: pa.DataType) -> str:
    """The Glue (Hive) type a crawler gives a Parquet column of this Arrow type."""
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_timestamp(t):
        return "timestamp"
    names = {"string": "string", "int32": "int", "int64": "bigint", "bool": "boolean"}
    names |= {"date32[day]": "date", "double": "double", "float": "float"}
    return names[str(t)]


def parquet_columns(table_dir: Path) -> list[Column]:
    """The columns of a table's Parquet files as written, as Glue names (lower case) and types."""
    files = sorted(table_dir.rglob("*.parquet"))
    first = next(f for f in files if not any(p[0] in "_." for p in f.relative_to(table_dir).parts))
    return [Column(field.name.lower(), glue_type(field.type)) for field in pq.read_schema(first)]


def json_lines(directory: Path) -> int:
    return sum(
        1 for f in directory.rglob("*.json") for line in f.read_text().splitlines() if line.strip()
    )


def test_catalog_file_lives_in_the_lake(tmp_path: Path) -> None:
    catalog.register_layer(str(tmp_path), "gold")
    assert catalog.catalog_path(str(tmp_path)) == tmp_path / "_catalog" / "catalog.duckdb"
    assert catalog.catalog_path(str(tmp_path)).is_file()


@slow
def test_silver_partitions_are_registered_as_strings(lake_copy: Path) -> None:
    table_dir = lake_copy / "silver" / "order_lines"
    files = sorted(table_dir.glob("year=*/month=*/day=*/*.parquet"))
    on_disk: dict[tuple[str, ...], int] = {}
    for f in files:
        values = tuple(part.split("=", 1)[1] for part in f.relative_to(table_dir).parts[:3])
        on_disk[values] = on_disk.get(values, 0) + pq.ParquetFile(f).metadata.num_rows
    # Spark's leftovers (an unfinished task's output, the _SUCCESS marker) are no rows or partitions
    leftover = table_dir / "_temporary/0/_temporary/attempt_0/year=2099/month=1/day=1"
    leftover.mkdir(parents=True)
    shutil.copy(files[0], leftover / files[0].name)
    (table_dir / "_SUCCESS").write_text("")

    tables = {t.name: t for t in catalog.register_layer(str(lake_copy), "silver")}
    assert set(tables) == {p.name for p in (lake_copy / "silver").iterdir() if p.is_dir()}
    table = tables["order_lines"]
    assert (table.database, table.format) == ("silver", "parquet")
    assert table.partition_keys == ["year", "month", "day"]
    assert sorted(tuple(p.values()) for p in table.partitions) == sorted(on_disk)
    assert table.columns == parquet_columns(table_dir)
    rows = catalog.execute(
        str(lake_copy),
        "select year, month, day, count(*) as n from order_lines group by year, month, day",
        database="silver",
    )
    # partition values are strings, as a Glue crawler types them
    got = {(r.year, r.month, r.day): r.n for r in rows.itertuples()}
    assert got == on_disk and all(isinstance(v, str) for key in got for v in key)


@slow
def test_gold_marts_keep_their_types(lake_copy: Path) -> None:
    tables = {t.name: t for t in catalog.register_layer(str(lake_copy), "gold")}
    assert set(tables) == {p.name for p in (lake_copy / "gold").iterdir() if p.is_dir()}
    # The marts that grow with time are partitioned by business month (docs/incremental-gold.md).
    partitioned = {"sales_daily", "product_monthly", "inventory_health"}
    for name, table in tables.items():
        months = sorted(p.name.split("=")[1] for p in (lake_copy / "gold" / name).glob("*=*"))
        keys = ["year_month"] if name in partitioned else []
        assert table.partition_keys == keys, name
        assert table.partitions == [{"year_month": m} for m in months], name
        assert (len(months) > 1) == (name in partitioned), name
        assert table.columns == parquet_columns(lake_copy / "gold" / name), name
    # as docs/gold.md defines them
    types = {c.name: c.type for c in tables["sales_daily"].columns}
    assert types["sales_date"] == "date" and types["net_revenue"] == "decimal(18,2)"
    assert types["orders"] == "bigint" and types["country"] == "string"


@slow
def test_quality_records_are_gold_tables(lake_copy: Path) -> None:
    tables = {t.name: t for t in catalog.register_layer(str(lake_copy), "quality")}
    assert set(tables) == {"quality_results", "quality_runs"}
    assert all(t.database == "gold" and t.format == "json" for t in tables.values())
    # dataset and run_id are columns of the records, so they are no partition keys
    assert all(t.partition_keys == [] for t in tables.values())
    runs = {c.name: c.type for c in tables["quality_runs"].columns}
    assert runs["failed_rules"] == "array<string>" and runs["rows_in"] == "bigint"
    n = catalog.execute(str(lake_copy), "select count(*) as n from quality_results").n[0]
    assert n == json_lines(lake_copy / "quality" / "results") > 0
    assert list(records.TABLES) == list(tables)
    assert [c.name for c in tables["quality_runs"].columns] == records.TABLES[
        "quality_runs"
    ].column_names


@slow
def test_a_removed_mart_is_dropped_and_views_survive_reregistering(lake_copy: Path) -> None:
    root = str(lake_copy)
    catalog.register_layer(root, "gold")
    catalog.register_layer(root, "quality")
    catalog.create_views(root)
    shutil.rmtree(lake_copy / "gold" / "customer_lifetime")
    names = {t.name for t in catalog.register_layer(root, "gold")}
    assert "customer_lifetime" not in names
    listed = catalog.list_tables(root)
    assert "customer_lifetime" not in set(listed.name)
    assert {"v_monthly_revenue", "quality_runs"} <= set(listed.name)
    assert len(catalog.execute(root, "select * from v_monthly_revenue")) > 0


@slow
def test_first_query_builds_the_catalog(lake_copy: Path) -> None:
    assert not catalog.catalog_path(str(lake_copy)).exists()
    got = catalog.execute(str(lake_copy), "select count(*) as n from v_customer_segments")
    rfm = pd.read_parquet(lake_copy / "gold" / "customer_rfm")
    assert got.n[0] == rfm.segment.nunique()


@slow
def test_create_or_replace_view_in_athena_sql(lake_copy: Path) -> None:
    root = str(lake_copy)
    catalog.register_layer(root, "gold")
    orders = pd.read_parquet(lake_copy / "gold" / "sales_daily").orders
    threshold = int(orders.median())
    catalog.execute(
        root,
        "CREATE OR REPLACE VIEW gold.v_big_orders AS "
        f"select sales_date, country from sales_daily where orders > {threshold}",
    )
    expected = (orders > threshold).sum()
    assert 0 < expected < len(orders)
    assert len(catalog.execute(root, "select * from v_big_orders")) == expected


def test_translate_is_athena_to_duckdb() -> None:
    assert catalog.translate("select 7 / 2") == "SELECT CAST(TRUNC(7 / 2) AS BIGINT)"
    assert "INTERVAL" in catalog.translate("select date_add('day', 1, d) from t")


def test_parse_errors_have_line_and_column() -> None:
    with pytest.raises(QueryError) as info:
        catalog.translate("select a,\n  from t where")
    # the position of the token's first character, as Trino reports it
    assert str(info.value) == "line 2:10: syntax error: incomplete WHERE expression near 'where'"


@slow
def test_duckdb_errors_point_into_the_original_sql(pipeline_lake: Path) -> None:
    with pytest.raises(QueryError) as info:
        catalog.execute(str(pipeline_lake), "select\n  country,\n  revenu\nfrom sales_daily")
    assert (info.value.line, info.value.column) == (3, 3)
    assert "revenu" in str(info.value) and "\n" not in str(info.value)


def test_unknown_database_and_s3_lakes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="database 'platinum' does not exist"):
        catalog.execute(str(tmp_path), "select 1", database="platinum")
    with pytest.raises(QueryError, match="local lake directory"):
        catalog.execute("s3://bucket", "select 1")


def _hammer(root: str, worker: int, customers: int) -> None:
    for _ in range(4):
        if worker % 2:
            catalog.register_layer(root, "gold")
        assert len(catalog.execute(root, "select * from customer_rfm")) == customers


@slow
def test_processes_share_the_catalog_file(lake_copy: Path) -> None:
    root = str(lake_copy)
    catalog.register_layer(root, "gold")
    customers = len(pd.read_parquet(lake_copy / "gold" / "customer_rfm"))
    # fork: the children start at once; the parent holds no open DuckDB connection
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_hammer, args=(root, i, customers)) for i in range(4)]
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


TRANSLATING_ON_THREADS = """
import sys, threading, time
from medallion.local import catalog
sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
errors = []

def translate(delay):
    start = time.perf_counter()
    while time.perf_counter() - start < delay:
        pass
    try:
        catalog.translate("SELECT 7 / 2 AS x")
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=translate, args=(i * 0.0005,)) for i in range(200)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(errors), errors[:1])
"""


def test_athena_sql_is_translated_on_many_threads_at_once_in_a_fresh_process() -> None:
    # The views' branches translate side by side, each on its own thread, from the first query
    # of a fresh process; sqlglot's lazy dialect load let a thread build a half-loaded Athena
    # dialect (NameError: '_TrinoTokenizer'). Threads start 0.5 ms apart, over the load.
    done = subprocess.run(
        [sys.executable, "-c", TRANSLATING_ON_THREADS],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "0 []", done.stdout


VIEWS_SIDE_BY_SIDE = """
import json, sys
from pathlib import Path
from medallion.local.services import LocalServices
from medallion.spec.views import view_statements

local = LocalServices(lake_root=Path(sys.argv[1]), jobs={}, crawlers={})
works = {name: local.start_query(sql, "gold", "wg") for name, sql in view_statements()}
left = local.settle(timeout=120)
print(json.dumps({name: [work.state, work.error_message] for name, work in works.items()}))
"""


@slow
def test_every_view_is_created_side_by_side_from_a_fresh_process(lake_copy: Path) -> None:
    # As the Create views state runs them: every view's query on a thread of its own at once,
    # the first Athena SQL a fresh process translates (the crawls registered the tables in
    # another process, as in a run): each view created, each process exiting cleanly. The
    # narrow race in sqlglot's first load is pinned by the 200-thread test above; this one
    # runs the whole path (catalog lock, DuckDB, the results' rows) three times.
    root = str(lake_copy)
    for layer in ("bronze", "silver", "gold", "quality"):
        catalog.register_layer(root, layer)
    names = [name for name, _ in view_statements()]
    for attempt in range(3):
        done = subprocess.run(
            [sys.executable, "-c", VIEWS_SIDE_BY_SIDE, root],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (attempt, done.stderr[-2000:])
        states = json.loads(done.stdout)
        assert states == {name: ["SUCCEEDED", ""] for name in names}, attempt
    assert set(catalog.list_tables(root).query("kind == 'view'")["name"]) >= set(names)
