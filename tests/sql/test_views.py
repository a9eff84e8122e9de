"""The analysts' views: they parse as Athena SQL, avoid dialect traps, give the right numbers."""

from __future__ import annotations

import sys
from datetime import date
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

from dashboard.demo_lake import DemoLake, build_demo_lake  # noqa: E402
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
}


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> DemoLake:
    built = build_demo_lake(tmp_path_factory.mktemp("lake"))
    for layer in catalog.LAYERS:
        catalog.register_layer(str(built.root), layer)
    assert sorted(catalog.create_views(str(built.root))) == sorted(VIEWS)
    return built


def view(lake: DemoLake, name: str, order_by: str) -> pd.DataFrame:
    return catalog.execute(str(lake.root), f"select * from {name} order by {order_by}")


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


def test_translation_of_decimal_sums_keeps_cents() -> None:
    cents = "cast(0.10 as decimal(18, 2))), (cast(0.20 as decimal(18, 2))"
    sql = f"select sum(x) from (values ({cents})) as t(x)"
    assert duck(sql) == Decimal("0.30")


# --- numbers, against pandas ----------------------------------------------------------------------


def test_monthly_revenue(lake: DemoLake) -> None:
    daily = lake.marts["sales_daily"].copy()
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
    ) / expected.previous_net_revenue
    expected["avg_order_value"] = (expected.gross_revenue / expected.orders).round(2)
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
    # Germany sold nothing in March 2024: April is not compared with February
    april = got[(got.country == "Germany") & (got.sales_month == date(2024, 4, 1))].iloc[0]
    assert pd.isna(april.mom_growth) and pd.isna(april.previous_net_revenue)
    assert got.orders.dtype == np.int64
    # the data runs from 1 January 2024 to 3 February 2025: only February 2025 is partial
    last = lake.marts["sales_daily"].sales_date.max()
    assert last == date(2025, 2, 3)
    assert set(got[got.is_partial_month].sales_month) == {date(2025, 2, 1)}


def test_top_products(lake: DemoLake) -> None:
    pm = lake.marts["product_monthly"].copy()
    pm["revenue"] = money(pm.revenue)
    pm["month_total"] = pm.groupby("month").revenue.transform("sum")
    pm = pm.sort_values(["month", "revenue", "stock_code"], ascending=[True, False, True])
    pm["revenue_rank"] = pm.groupby("month").cumcount() + 1
    expected = pm[pm.revenue_rank <= 10].reset_index(drop=True)

    got = view(lake, "v_top_products", "sales_month, revenue_rank")
    assert list(zip(got.sales_month, got.revenue_rank, got.stock_code, strict=True)) == list(
        zip(expected.month, expected.revenue_rank, expected.stock_code, strict=True)
    )
    np.testing.assert_allclose(got.revenue, expected.revenue)
    np.testing.assert_allclose(got.revenue_share, expected.revenue / expected.month_total)
    # the tie at 999.50 is broken by stock code
    tie = got[(got.sales_month == date(2024, 5, 1)) & (got.revenue == 999.5)]
    assert list(tie.stock_code) == ["20003", "20004"]


def test_customer_segments(lake: DemoLake) -> None:
    rfm = lake.marts["customer_rfm"].copy()
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


def test_cohort_retention(lake: DemoLake) -> None:
    cr = lake.marts["cohort_retention"]
    last = max(
        date(c.year + (c.month - 1 + s) // 12, (c.month - 1 + s) % 12 + 1, 1)
        for c, s in zip(cr.cohort_month, cr.months_since, strict=True)
    )
    got = view(lake, "v_cohort_retention", "cohort_month").set_index("cohort_month")
    assert list(got.index) == sorted(cr.cohort_month.unique())
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
            else:  # a month without a row in the mart means nobody came back: 0
                assert cell == pytest.approx(rates.get(k, 0.0)), (cohort, k)
    assert (got.month_00 == 1).all()


def test_inventory_alerts(lake: DemoLake) -> None:
    inv = lake.marts["inventory_health"]
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
    # a product that did not sell has no cover figure and is not "low"
    assert not got[got.stock_code == "20007"].is_low_cover.any()


def test_quality_latest(lake: DemoLake) -> None:
    results = lake.quality_results.sort_values(["evaluated_at", "run_id"], ascending=False)
    expected = results.drop_duplicates(["dataset", "rule_id"]).sort_values(["dataset", "rule_id"])

    got = view(lake, "v_quality_latest", "dataset, rule_id")
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
    # freshness was only evaluated in the first run: its latest result is that run's
    assert set(got[got.rule_id == "freshness"].run_id) == {"run-2025-02-27"}


def test_run_ledger(lake: DemoLake) -> None:
    runs = lake.quality_runs.sort_values(["run_id", "dataset"]).reset_index(drop=True)
    got = view(lake, "v_run_ledger", "run_id, dataset")
    assert list(got.run_id) == list(runs.run_id) and list(got.dataset) == list(runs.dataset)
    assert list(got.rows_clean) == list(runs.rows_silver)
    assert list(got.rows_quarantined) == list(runs.rows_quarantined)
    assert list(got.rows_duplicate) == list(runs.rows_duplicate)
    assert got.is_balanced.all()
    np.testing.assert_allclose(got.quarantine_ratio, runs.rows_quarantined / runs.rows_in)
    assert list(got.failed_rule_count) == [len(r) for r in runs.failed_rules]


# --- the YAML beside each view, evaluated -------------------------------------------------------


@pytest.mark.parametrize("name", VIEWS)
def test_view_yaml_invariants_hold(lake: DemoLake, name: str) -> None:
    spec = yaml.safe_load((SQL_DIR / f"{name}.yml").read_text())
    root = str(lake.root)
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


def test_named_queries_parse_and_run(lake: DemoLake) -> None:
    queries = named_queries()
    assert len(queries) >= 5
    for query in queries:
        assert query.title and query.description and query.database == "gold"
        assert len(query.title) <= 128 and len(query.description) <= 1024
        sqlglot.parse_one(query.sql, read="athena")
        result = catalog.execute(str(lake.root), query.sql)
        assert len(result) > 0 or query.name == "customers_at_risk", query.name
