"""The analysts' views: they parse as Athena SQL, avoid dialect traps, give the right numbers."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
import yaml
from sqlglot import exp

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from medallion.local import catalog  # noqa: E402
from medallion.spec.views import (  # noqa: E402
    SQL_DIR,
    header_fields,
    named_queries,
    view_body,
    view_files,
    view_statements,
)

VIEWS = [p.stem for p in view_files()]
EXPECTED_VIEWS = {
    "v_monthly_revenue",
    "v_top_products",
    "v_customer_segments",
    "v_cohort_retention",
    "v_inventory_alerts",
    "v_quality_latest",
    "v_run_ledger",
    "v_customer_value_segments",
    "v_customers_at_risk_by_value",
}
# the tests of numbers read the lake of one real pipeline run (tests/conftest.py)
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(pipeline_lake: Path) -> Path:
    views = catalog.list_tables(str(pipeline_lake)).query("kind == 'view'")
    assert sorted(views.name) == sorted(VIEWS), "the run's Views state created every view"
    return pipeline_lake


def view(lake: Path, name: str, order_by: str) -> pd.DataFrame:
    return catalog.execute(str(lake), f"select * from {name} order by {order_by}")


def gold(lake: Path, mart: str) -> pd.DataFrame:
    """A gold mart as the gold job wrote it, read by pandas (dates as dates, money as Decimal)."""
    return pd.read_parquet(lake / "gold" / mart)


def quality_records(lake: Path, kind: str) -> pd.DataFrame:
    """The JSON Lines records of quality/results/ or quality/runs/, read without the catalog."""
    rows = [
        json.loads(line)
        for path in sorted((lake / "quality" / kind).rglob("*.json"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return pd.DataFrame(rows)


def money(values: pd.Series) -> pd.Series:
    return values.map(float)


# --- shape of the files ---------------------------------------------------------------------------


def test_every_expected_view_has_a_file() -> None:
    assert set(VIEWS) == EXPECTED_VIEWS


@pytest.mark.parametrize("name", VIEWS)
def test_view_parses_as_athena_sql(name: str) -> None:
    parsed = sqlglot.parse_one(view_body(SQL_DIR / f"{name}.sql"), read="athena")
    assert isinstance(parsed, exp.Query)
    ddl = dict(view_statements())[name]
    assert isinstance(sqlglot.parse_one(ddl, read="athena"), exp.Create)


@pytest.mark.parametrize("name", VIEWS)
def test_view_file_follows_the_house_style(name: str) -> None:
    path = SQL_DIR / f"{name}.sql"
    fields = header_fields(path)
    assert fields.get("grain", "").startswith("one row per"), "header states the grain"
    body = view_body(path)
    assert body.rstrip().endswith("select * from final")
    spec = yaml.safe_load((SQL_DIR / f"{name}.yml").read_text())
    assert spec["name"] == name and spec["grain"] == fields["grain"]
    assert spec["key"] and spec["invariants"]
    # tables unqualified: they resolve in the database the view is created in, on AWS and locally
    tables = sqlglot.parse_one(body, read="athena").find_all(exp.Table)
    assert all(not t.db for t in tables)


def _is_typed(node: exp.Expr) -> bool:
    if isinstance(node, exp.Paren):
        return _is_typed(node.this)
    if isinstance(node, exp.Nullif):
        return _is_typed(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in (exp.DataType.Type.DOUBLE, exp.DataType.Type.DECIMAL)
    return isinstance(node, exp.Literal) and not node.is_string and "." in node.name


@pytest.mark.parametrize("name", VIEWS)
def test_view_avoids_the_dialect_traps(name: str) -> None:
    """Constructs whose Trino and DuckDB results differ, see test_translation_* below."""
    tree = sqlglot.parse_one(view_body(SQL_DIR / f"{name}.sql"), read="athena")
    for div in tree.find_all(exp.Div):
        assert _is_typed(div.this) and _is_typed(div.expression), f"untyped division: {div.sql()}"
    assert not list(tree.find_all(exp.RegexpExtract)), "regexp_extract differs on no match"
    assert not list(tree.find_all(exp.DateDiff)), "date_diff counts boundaries in DuckDB"
    text = view_body(SQL_DIR / f"{name}.sql").lower()
    assert "format_datetime" not in text and "date_format" not in text


# --- the traps, pinned through the translation ----------------------------------------------------


def duck(sql: str) -> Any:
    row = duckdb.sql(catalog.translate(sql)).fetchone()
    assert row is not None
    return row[0]


def test_translation_keeps_trino_integer_division_of_literals() -> None:
    assert duck("select 7 / 2") == 3  # Trino: 3
    assert duck("select -7 / 2") == -3  # Trino truncates toward zero
    assert duck("select cast(7 as double) / 2") == 3.5


def test_translation_of_date_diff_counts_boundaries_so_views_never_use_it() -> None:
    # Trino: 0 (not a whole month apart); DuckDB after translation: 1. Views use year*12+month.
    assert duck("select date_diff('month', date '2024-01-31', date '2024-02-01')") == 1
    assert duck("select date_diff('day', date '2024-01-31', date '2024-03-01')") == 30


def test_translation_of_regexp_extract_without_match_differs_so_views_never_use_it() -> None:
    assert duck("select regexp_extract('abc', 'x(y)', 1)") == ""  # Trino: NULL


def test_format_datetime_does_not_translate_so_views_never_use_it() -> None:
    with pytest.raises(duckdb.Error):
        duck("select format_datetime(timestamp '2024-01-31 10:00:00', 'yyyy-MM')")


def test_translation_of_the_date_functions_the_views_use() -> None:
    assert duck("select date_trunc('month', date '2024-03-17')") == date(2024, 3, 1)
    # a date, as in Trino, so joins on months compare dates
    truncated = duckdb.sql(catalog.translate("select date_trunc('month', date '2024-03-17')"))
    assert str(truncated.types[0]) == "DATE"
    assert duck("select date_add('month', 1, date '2024-01-31')").date() == date(2024, 2, 29)
    assert duck("select date_add('month', 1, date '2024-02-01') = date '2024-03-01'") is True
    assert duck("select year(date '2024-03-17') * 12 + month(date '2024-03-17')") == 24291
    assert duck("select cardinality(array['a', 'b'])") == 2
    assert duck("select count_if(x) from (values (true), (false), (true)) as t(x)") == 2


def test_translation_keeps_trino_like_with_no_default_escape() -> None:
    # Trino's LIKE has no escape character unless ESCAPE names one; a backslash is itself
    # (https://trino.io/docs/current/functions/comparison.html#like). So has DuckDB's.
    assert duck("select 'GIFT_1' like 'GIFT\\_%'") is False
    assert duck("select 'GIFT\\X1' like 'GIFT\\_%'") is True
    assert duck("select 'GIFT_1' like 'GIFT\\_%' escape '\\'") is True
    assert duck("select 'GIFTX1' like 'GIFT\\_%' escape '\\'") is False


def test_translation_of_decimal_sums_keeps_cents() -> None:
    cents = "cast(0.10 as decimal(18, 2))), (cast(0.20 as decimal(18, 2))"
    sql = f"select sum(x) from (values ({cents})) as t(x)"
    assert duck(sql) == Decimal("0.30")


# --- numbers, against pandas over the files the jobs wrote --------------------------------------


@slow
def test_the_views_state_of_the_run_and_create_views_agree(lake_copy: Path) -> None:
    root = str(lake_copy)
    for layer in catalog.LAYERS:
        catalog.register_layer(root, layer)
    assert sorted(catalog.create_views(root)) == sorted(VIEWS)


@slow
def test_monthly_revenue(lake: Path) -> None:
    daily = gold(lake, "sales_daily")
    daily["sales_month"] = daily.sales_date.map(lambda d: d.replace(day=1))
    for col in ("gross_revenue", "cancelled_value", "net_revenue"):
        daily[col] = money(daily[col])
    monthly = daily.groupby(["sales_month", "country"], as_index=False)[
        ["orders", "units", "gross_revenue", "cancelled_value", "net_revenue"]
    ].sum()
    prev = monthly[["sales_month", "country", "net_revenue"]].copy()
    prev["sales_month"] = prev.sales_month.map(
        lambda d: date(d.year + d.month // 12, d.month % 12 + 1, 1)
    )
    expected = monthly.merge(
        prev.rename(columns={"net_revenue": "previous_net_revenue"}),
        on=["sales_month", "country"],
        how="left",
    )
    expected["mom_growth"] = (
        expected.net_revenue - expected.previous_net_revenue
    ) / expected.previous_net_revenue.replace(0, np.nan)
    expected["avg_order_value"] = (
        expected.gross_revenue / expected.orders.replace(0, np.nan)
    ).round(2)
    expected = expected.sort_values(["sales_month", "country"]).reset_index(drop=True)

    got = view(lake, "v_monthly_revenue", "sales_month, country")
    assert list(got.sales_month) == list(expected.sales_month)
    assert list(got.country) == list(expected.country)
    for col in (
        "orders",
        "units",
        "gross_revenue",
        "cancelled_value",
        "net_revenue",
        "avg_order_value",
        "previous_net_revenue",
        "mom_growth",
    ):
        np.testing.assert_allclose(
            got[col].astype(float), expected[col].astype(float), rtol=1e-9, err_msg=col
        )
    # a country that sold before but not in the previous calendar month: no growth, not a
    # comparison with its last month with sales (the sample has such months)
    first_month = expected.groupby("country").sales_month.transform("min")
    gap = (expected.sales_month > first_month) & expected.previous_net_revenue.isna()
    assert gap.any()
    assert got[gap].mom_growth.isna().all() and got[gap].previous_net_revenue.isna().all()
    assert got.orders.dtype == np.int64
    # only a first month the data starts after the 1st of, or a last month it ends before the end of
    first, last = daily.sales_date.min(), daily.sales_date.max()
    partial = {first.replace(day=1)} if first.day > 1 else set()
    if (last + timedelta(days=1)).month == last.month:
        partial.add(last.replace(day=1))
    assert partial  # the sample ends within a month
    assert set(got[got.is_partial_month].sales_month) == partial


@slow
def test_top_products(lake: Path) -> None:
    pm = gold(lake, "product_monthly")
    pm["revenue"] = money(pm.revenue)
    pm["month_total"] = pm.groupby("month").revenue.transform("sum")
    # ties in revenue are broken by stock code
    pm = pm.sort_values(["month", "revenue", "stock_code"], ascending=[True, False, True])
    pm["revenue_rank"] = pm.groupby("month").cumcount() + 1
    expected = pm[pm.revenue_rank <= 10].reset_index(drop=True)

    got = view(lake, "v_top_products", "sales_month, revenue_rank")
    assert list(zip(got.sales_month, got.revenue_rank, got.stock_code, strict=True)) == list(
        zip(expected.month, expected.revenue_rank, expected.stock_code, strict=True)
    )
    np.testing.assert_allclose(got.revenue, expected.revenue)
    np.testing.assert_allclose(got.revenue_share, expected.revenue / expected.month_total)


@slow
def test_customer_segments(lake: Path) -> None:
    rfm = gold(lake, "customer_rfm")
    rfm["monetary"] = money(rfm.monetary)
    expected = (
        rfm.groupby("segment")
        .agg(
            customer_count=("customer_id", "count"),
            revenue=("monetary", "sum"),
            avg_recency_days=("recency_days", "mean"),
            avg_frequency=("frequency", "mean"),
        )
        .sort_index()
    )
    expected["customer_share"] = expected.customer_count / len(rfm)
    expected["revenue_share"] = expected.revenue / rfm.monetary.sum()

    got = view(lake, "v_customer_segments", "segment").set_index("segment")
    assert list(got.index) == list(expected.index)
    for col in expected.columns:
        np.testing.assert_allclose(got[col].astype(float), expected[col].astype(float), err_msg=col)
    assert got.customer_share.sum() == pytest.approx(1)
    assert got.revenue_share.sum() == pytest.approx(1)


@slow
def test_cohort_retention(lake: Path) -> None:
    cr = gold(lake, "cohort_retention")
    last = max(
        date(c.year + (c.month - 1 + s) // 12, (c.month - 1 + s) % 12 + 1, 1)
        for c, s in zip(cr.cohort_month, cr.months_since, strict=True)
    )
    got = view(lake, "v_cohort_retention", "cohort_month").set_index("cohort_month")
    assert list(got.index) == sorted(cr.cohort_month.unique())
    assert (cr.active_customers == 0).any()  # months nobody came back: 0, not NULL
    for cohort, rows in cr.groupby("cohort_month"):
        observed = (last.year - cohort.year) * 12 + last.month - cohort.month
        row = got.loc[cohort]
        assert row.cohort_size == rows.cohort_size.iloc[0]
        assert row.months_observed == observed
        rates = dict(zip(rows.months_since, rows.active_customers / rows.cohort_size, strict=True))
        for k in range(13):
            cell = row[f"month_{k:02d}"]
            if k > observed:
                assert pd.isna(cell), (cohort, k)
            else:  # the view also reads a month without a row in the mart as 0
                assert cell == pytest.approx(rates.get(k, 0.0)), (cohort, k)
    assert (got.month_00 == 1).all()


@slow
def test_inventory_alerts(lake: Path) -> None:
    inv = gold(lake, "inventory_health")
    # the earlier snapshots have alerts too: only the latest counts
    assert inv[inv.snapshot_date < inv.snapshot_date.max()].is_stock_out.any()
    latest = inv[inv.snapshot_date == inv.snapshot_date.max()].copy()
    latest["is_low_cover"] = ~latest.is_stock_out & (latest.days_of_cover.fillna(np.inf) < 7)
    expected = latest[latest.is_stock_out | latest.is_low_cover | latest.needs_reorder]
    expected = expected.sort_values(["stock_code", "warehouse"]).reset_index(drop=True)

    got = view(lake, "v_inventory_alerts", "stock_code, warehouse")
    assert list(zip(got.stock_code, got.warehouse, strict=True)) == list(
        zip(expected.stock_code, expected.warehouse, strict=True)
    )
    assert list(got.is_low_cover) == list(expected.is_low_cover)
    assert set(got.snapshot_date) == {inv.snapshot_date.max()}
    kinds = np.where(
        expected.is_stock_out, "stock_out", np.where(expected.is_low_cover, "low_cover", "reorder")
    )
    assert list(got.alert_type) == list(kinds)
    assert set(kinds) == {"stock_out", "low_cover", "reorder"}  # the sample has every kind
    # a product that did not sell has no cover figure and is not "low"
    assert not got[got.days_of_cover.isna()].is_low_cover.any()


@slow
def test_quality_latest(lake_copy: Path) -> None:
    # One run evaluates every rule once. A second run is made from its records (the jobs'
    # own records, re-stamped an hour later): it evaluates every rule but each dataset's first
    # one, and one of its rules now fails. The view must take each rule from its latest run.
    first = quality_records(lake_copy, "results")
    later = datetime.fromisoformat(first.evaluated_at.max()) + timedelta(hours=1)
    second = first[first.groupby("dataset").cumcount() > 0].copy()
    second["run_id"] = "tests-lake-2"
    second["evaluated_at"] = later.isoformat(timespec="seconds")
    flipped = second.index[second.status == "pass"][0]
    second.loc[flipped, ["status", "failed"]] = ["fail", 1]
    for dataset, records in second.groupby("dataset"):
        path = lake_copy / "quality" / "results" / f"dataset={dataset}" / "run_id=tests-lake-2"
        path.mkdir(parents=True)
        lines = [json.dumps(r) for r in records.to_dict("records")]
        (path / "results.json").write_text("\n".join(lines) + "\n", encoding="utf-8")

    results = pd.concat([first, second]).sort_values(["evaluated_at", "run_id"], ascending=False)
    expected = results.drop_duplicates(["dataset", "rule_id"]).sort_values(["dataset", "rule_id"])
    got = view(lake_copy, "v_quality_latest", "dataset, rule_id")
    assert list(zip(got.dataset, got.rule_id, got.run_id, got.status, strict=True)) == list(
        zip(expected.dataset, expected.rule_id, expected.run_id, expected.status, strict=True)
    )
    assert list(got.failed) == list(expected.failed)
    assert list(got.is_failing) == list(expected.status == "fail")
    row_rule = expected.scope.isin(["row", "parse"])
    assert list(got.is_quarantining) == list((expected.status == "fail") & row_rule)
    assert list(got.is_blocking) == list(
        (expected.status == "fail") & (expected.scope == "dataset")
    )
    # the rules the second run did not evaluate keep the first run's result
    assert got.run_id.value_counts().to_dict() == {
        "tests-lake-2": len(second),
        first.run_id.iloc[0]: first.dataset.nunique(),
    }


@slow
def test_run_ledger(lake: Path) -> None:
    runs = quality_records(lake, "runs").sort_values(["run_id", "dataset"]).reset_index(drop=True)
    got = view(lake, "v_run_ledger", "run_id, dataset")
    assert list(got.run_id) == list(runs.run_id) and list(got.dataset) == list(runs.dataset)
    assert list(got.rows_clean) == list(runs.rows_silver)
    assert list(got.rows_quarantined) == list(runs.rows_quarantined)
    assert list(got.rows_duplicate) == list(runs.rows_duplicate)
    assert got.is_balanced.all()
    np.testing.assert_allclose(got.quarantine_ratio, runs.rows_quarantined / runs.rows_in)
    assert list(got.failed_rule_count) == [len(r) for r in runs.failed_rules]


# --- the YAML beside each view, evaluated -------------------------------------------------------


@slow
@pytest.mark.parametrize("name", VIEWS)
def test_view_yaml_invariants_hold(lake: Path, name: str) -> None:
    spec = yaml.safe_load((SQL_DIR / f"{name}.yml").read_text())
    root = str(lake)
    assert len(catalog.execute(root, f"select * from {name}")) > 0
    for key in [spec["key"], *spec.get("unique", [])]:
        cols = ", ".join(key)
        dupes = catalog.execute(
            root, f"select {cols} from {name} group by {cols} having count(*) > 1"
        )
        assert dupes.empty, f"{name}: {key} is not unique"
    for col in spec.get("not_null", []):
        nulls = catalog.execute(root, f"select count(*) as n from {name} where {col} is null")
        assert nulls.n[0] == 0, f"{name}.{col} has NULLs"
    for inv in spec["invariants"]:
        bad = catalog.execute(
            root,
            f"select count(*) as n from {name} where not coalesce(({inv['expression']}), false)",
        )
        assert bad.n[0] == 0, f"{name}: invariant {inv['name']} fails"


# --- DDL and named queries ------------------------------------------------------------------------


def test_view_statements_are_stable_create_or_replace_ddl() -> None:
    statements = view_statements()
    assert [n for n, _ in statements] == sorted(VIEWS)
    for name, ddl in statements:
        assert ddl.startswith(f"CREATE OR REPLACE VIEW gold.{name} AS\nwith")
        assert not ddl.rstrip().endswith(";") and "-- grain:" not in ddl
    assert view_statements() == statements
    assert view_statements(database="medallion_dev_gold")[0][1].startswith(
        "CREATE OR REPLACE VIEW medallion_dev_gold."
    )


@slow
def test_named_queries_parse_and_run(lake: Path) -> None:
    queries = named_queries()
    assert len(queries) >= 5
    for query in queries:
        assert query.title and query.description and query.database == "gold"
        assert len(query.title) <= 128 and len(query.description) <= 1024
        sqlglot.parse_one(query.sql, read="athena")
        result = catalog.execute(str(lake), query.sql)
        assert len(result) > 0 or query.name == "customers_at_risk", query.name
