"""The analysts' views after a real pipeline run on generated data, against pandas over silver."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from medallion.local import catalog

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(pipeline_lake: Path) -> Path:
    """The session's one real pipeline run (tests/conftest.py): views created by its run."""
    return pipeline_lake


def silver(lake: Path, dataset: str) -> pd.DataFrame:
    return duckdb.sql(
        f"select * from read_parquet('{lake}/silver/{dataset}/**/*.parquet', "
        "hive_partitioning = true)"
    ).df()


def query(lake: Path, sql: str) -> pd.DataFrame:
    return catalog.execute(str(lake), sql)


def sales(lake: Path) -> pd.DataFrame:
    lines = silver(lake, "order_lines")
    lines["amount"] = lines["line_amount"].astype(float)
    lines["sales_date"] = pd.to_datetime(lines["invoiced_at"]).dt.date
    lines["sales_month"] = (
        pd.to_datetime(lines["invoiced_at"]).dt.to_period("M").dt.start_time.dt.date
    )
    lines["country"] = lines["country"].fillna("Unknown")
    return lines


def test_monthly_revenue_matches_silver(lake: Path) -> None:
    lines = sales(lake)
    sale, cancel = lines[~lines.is_cancellation], lines[lines.is_cancellation]
    expected = (
        sale.groupby(["sales_month", "country"])
        .agg(orders=("invoice_no", "nunique"), gross=("amount", "sum"))
        .join(
            cancel.groupby(["sales_month", "country"]).agg(cancelled=("amount", "sum")), how="outer"
        )
        .fillna(0)
        .reset_index()
    )
    expected["net"] = expected["gross"] + expected["cancelled"]  # cancelled amounts are negative
    days = lines.groupby(["sales_month", "country"])["sales_date"].nunique().rename("days")
    expected = expected.join(days, on=["sales_month", "country"]).sort_values(
        ["sales_month", "country"]
    )
    got = query(lake, "select * from v_monthly_revenue order by sales_month, country")
    assert len(got) == len(expected) > 10
    assert got["orders"].tolist() == expected["orders"].astype(int).tolist()
    # gold rounds each day to cents, the view sums days: allow half a cent per day
    tolerance = 0.005 * expected["days"].to_numpy() + 1e-9
    for column, reference in (("gross_revenue", "gross"), ("net_revenue", "net")):
        difference = np.abs(got[column].astype(float).to_numpy() - expected[reference].to_numpy())
        assert (difference <= tolerance).all(), column


def test_top_products_lead_each_month_as_silver_says(lake: Path) -> None:
    lines = sales(lake)
    products = lines[lines.is_product & ~lines.is_cancellation]
    revenue = products.groupby(["sales_month", "stock_code"])["amount"].sum().reset_index()
    revenue["amount"] = revenue["amount"].round(2)
    leaders = revenue.sort_values(
        ["sales_month", "amount", "stock_code"], ascending=[True, False, True]
    )
    expected = leaders.groupby("sales_month").head(1).set_index("sales_month")
    got = query(lake, "select * from v_top_products where revenue_rank = 1 order by sales_month")
    assert got["stock_code"].tolist() == expected["stock_code"].tolist()
    np.testing.assert_allclose(got["revenue"].astype(float), expected["amount"], atol=0.01)


def test_customer_segments_cover_every_buying_customer(lake: Path) -> None:
    lines = sales(lake)
    buyers = lines[~lines.is_cancellation & lines.customer_id.notna()].customer_id.nunique()
    got = query(lake, "select * from v_customer_segments")
    assert got["customer_count"].sum() == buyers
    np.testing.assert_allclose(got["customer_share"].sum(), 1.0)
    np.testing.assert_allclose(got["revenue_share"].sum(), 1.0)


def test_cohort_retention_counts_first_purchase_months(lake: Path) -> None:
    lines = sales(lake)
    buying = lines[~lines.is_cancellation & lines.customer_id.notna()]
    first = buying.groupby("customer_id")["sales_month"].min().value_counts().sort_index()
    got = query(lake, "select * from v_cohort_retention order by cohort_month")
    assert got["cohort_month"].tolist() == first.index.tolist()
    assert got["cohort_size"].tolist() == first.tolist()
    assert (got["month_00"].astype(float) == 1.0).all()


def test_inventory_alerts_list_the_latest_stock_outs(lake: Path) -> None:
    inventory = silver(lake, "inventory")
    latest = inventory[inventory.snapshot_date == inventory.snapshot_date.max()]
    outs = set(zip(*latest[latest.on_hand <= 0][["stock_code", "warehouse"]].values.T, strict=True))
    got = query(lake, "select * from v_inventory_alerts where alert_type = 'stock_out'")
    assert set(zip(got.stock_code, got.warehouse, strict=True)) == outs
    assert len(outs) > 0


def _json_records(directory: Path) -> pd.DataFrame:
    rows = [
        json.loads(line) for p in directory.rglob("*.json") for line in p.read_text().splitlines()
    ]
    return pd.DataFrame(rows)


def test_quality_views_match_the_quality_records(lake: Path) -> None:
    runs = _json_records(lake / "quality" / "runs").sort_values("dataset")
    ledger = query(lake, "select * from v_run_ledger order by dataset")
    assert ledger["dataset"].tolist() == runs["dataset"].tolist()
    assert ledger["rows_in"].tolist() == runs["rows_in"].tolist()
    assert ledger["rows_clean"].tolist() == runs["rows_silver"].tolist()
    assert ledger["rows_quarantined"].tolist() == runs["rows_quarantined"].tolist()
    assert ledger["rows_duplicate"].tolist() == runs["rows_duplicate"].tolist()
    assert ledger["is_balanced"].all()
    results = _json_records(lake / "quality" / "results")
    latest = query(lake, "select * from v_quality_latest")
    assert len(latest) == len(results)
    merged = latest.merge(results, on=["dataset", "rule_id"], suffixes=("", "_json"))
    assert (merged["status"] == merged["status_json"]).all()
    assert (merged["failed"] == merged["failed_json"]).all()
