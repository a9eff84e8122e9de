"""Altair charts of the dashboard, as pure functions of the rows the views return."""

from __future__ import annotations

import altair as alt
import pandas as pd

HEIGHT = 320


def _dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    out = frame.copy()
    for col in columns:
        out[col] = pd.to_datetime(out[col])
    return out


def revenue_trend(monthly: pd.DataFrame) -> alt.Chart:
    """Net revenue per month, one line per country (v_monthly_revenue)."""
    data = _dates(monthly, "sales_month")
    data["net_revenue"] = data["net_revenue"].astype(float)
    return (
        alt.Chart(data, height=HEIGHT)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(sales_month):T", title="month"),
            y=alt.Y("net_revenue:Q", title="net revenue"),
            color=alt.Color("country:N"),
            tooltip=[
                "country",
                "yearmonth(sales_month):T",
                alt.Tooltip("net_revenue:Q", format=",.2f"),
                alt.Tooltip("mom_growth:Q", format="+.1%"),
            ],
        )
    )


def growth_bars(monthly: pd.DataFrame) -> alt.Chart:
    """Month-over-month growth of net revenue, all countries together."""
    data = _dates(monthly, "sales_month")
    return (
        alt.Chart(data, height=200)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(sales_month):T", title="month"),
            y=alt.Y("mom_growth:Q", title="growth vs previous month", axis=alt.Axis(format="%")),
            color=alt.condition(
                "datum.mom_growth >= 0", alt.value("#2a9d8f"), alt.value("#e76f51")
            ),
            tooltip=[
                alt.Tooltip("yearmonth(sales_month):T", title="month"),
                alt.Tooltip("mom_growth:Q", format="+.1%"),
            ],
        )
    )


def top_products(products: pd.DataFrame) -> alt.Chart:
    """Revenue of the month's top products, best first (v_top_products)."""
    data = products.assign(
        label=products["stock_code"] + " " + products["description"].fillna(""),
        revenue=products["revenue"].astype(float),
    )
    return (
        alt.Chart(data, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("revenue:Q", title="revenue"),
            y=alt.Y(
                "label:N", sort=alt.EncodingSortField("revenue_rank", order="ascending"), title=None
            ),
            color=alt.Color("category:N"),
            tooltip=[
                "revenue_rank",
                "stock_code",
                "description",
                "category",
                alt.Tooltip("revenue:Q", format=",.2f"),
                "units_sold",
                alt.Tooltip("return_rate:Q", format=".1%"),
                "avg_rating",
            ],
        )
    )


def segments(segments_frame: pd.DataFrame) -> alt.Chart:
    """Customers and revenue share per RFM segment, side by side (v_customer_segments)."""
    data = segments_frame.melt(
        id_vars=["segment"], value_vars=["customer_share", "revenue_share"], var_name="share_of"
    )
    return (
        alt.Chart(data, height=HEIGHT)
        .mark_bar()
        .encode(
            y=alt.Y("segment:N", sort="-x", title=None),
            x=alt.X("value:Q", title="share", axis=alt.Axis(format="%")),
            yOffset="share_of:N",
            color=alt.Color("share_of:N", title=None),
            tooltip=["segment", "share_of", alt.Tooltip("value:Q", format=".1%")],
        )
    )


def recency(segments_frame: pd.DataFrame) -> alt.Chart:
    """Average days since the last purchase per segment."""
    return (
        alt.Chart(segments_frame, height=220)
        .mark_bar()
        .encode(
            x=alt.X("avg_recency_days:Q", title="average recency (days)"),
            y=alt.Y("segment:N", sort="x", title=None),
            tooltip=["segment", alt.Tooltip("avg_recency_days:Q", format=".0f"), "customer_count"],
        )
    )


def cohort_long(matrix: pd.DataFrame) -> pd.DataFrame:
    """The cohort matrix (v_cohort_retention) as one row per cohort and month since, no NULLs."""
    months = [c for c in matrix.columns if c.startswith("month_")]
    long = matrix.melt(
        id_vars=["cohort_month", "cohort_size"],
        value_vars=months,
        var_name="month",
        value_name="retention",
    ).dropna(subset=["retention"])
    long["months_since"] = long["month"].str.removeprefix("month_").astype(int)
    long["cohort"] = pd.to_datetime(long["cohort_month"]).dt.strftime("%Y-%m")
    return long.drop(columns="month")


def cohort_heatmap(matrix: pd.DataFrame) -> alt.LayerChart:
    """Retention by cohort and months since first purchase: a heat map with the rates written in."""
    data = cohort_long(matrix)
    base = alt.Chart(data, height=max(HEIGHT, 30 * data["cohort"].nunique())).encode(
        x=alt.X("months_since:O", title="months since first purchase"),
        y=alt.Y("cohort:O", title="cohort (first purchase month)"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "retention:Q",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(format="%"),
        ),
        tooltip=["cohort", "months_since", "cohort_size", alt.Tooltip("retention:Q", format=".1%")],
    )
    labels = base.mark_text(fontSize=10).encode(
        text=alt.Text("retention:Q", format=".0%"),
        color=alt.condition("datum.retention > 0.5", alt.value("white"), alt.value("black")),
    )
    return cells + labels


def alerts_by_warehouse(alerts: pd.DataFrame) -> alt.Chart:
    """Alerts per warehouse, stacked by kind (v_inventory_alerts)."""
    return (
        alt.Chart(alerts, height=220)
        .mark_bar()
        .encode(
            x=alt.X("count():Q", title="alerts"),
            y=alt.Y("warehouse:N", title=None),
            color=alt.Color(
                "alert_type:N",
                scale=alt.Scale(
                    domain=["stock_out", "low_cover", "reorder"],
                    range=["#d62728", "#ff7f0e", "#1f77b4"],
                ),
            ),
            tooltip=["warehouse", "alert_type", "count()"],
        )
    )


def rule_results_over_runs(results: pd.DataFrame) -> alt.Chart:
    """How many rules passed, warned or failed in each run, per dataset (quality_results)."""
    return (
        alt.Chart(results, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("run_id:N", title="run", sort="ascending", axis=alt.Axis(labelLimit=240)),
            y=alt.Y("rules:Q", title="rules"),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=["pass", "warn", "fail", "skipped"],
                    range=["#2a9d8f", "#e9c46a", "#e76f51", "#adb5bd"],
                ),
            ),
            # wrapped facets: five datasets side by side would not fit the page
            facet=alt.Facet("dataset:N", title=None, columns=3),
            tooltip=["dataset", "run_id", "status", "rules"],
        )
        .properties(width=220, height=200)
    )


def quarantined_by_reason(rows: pd.DataFrame) -> alt.Chart:
    """Rows quarantined per failed rule (error-severity row and parse rules), per dataset."""
    return (
        alt.Chart(rows, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("rows_quarantined:Q", title="rows quarantined"),
            y=alt.Y("rule_id:N", sort="-x", title="rule", axis=alt.Axis(labelLimit=320)),
            color=alt.Color("dataset:N"),
            tooltip=["dataset", "rule_id", "rows_quarantined"],
        )
    )


def ledger(runs: pd.DataFrame) -> alt.Chart:
    """Rows in per run, split into clean, quarantined and duplicate (v_run_ledger)."""
    data = runs.melt(
        id_vars=["run_id", "dataset"],
        value_vars=["rows_clean", "rows_quarantined", "rows_duplicate"],
        var_name="outcome",
        value_name="rows",
    )
    return (
        alt.Chart(data, height=220)
        .mark_bar()
        .encode(
            x=alt.X("rows:Q", title="rows", stack="normalize", axis=alt.Axis(format="%")),
            y=alt.Y("run_id:N", title=None, axis=alt.Axis(labelLimit=240)),
            color=alt.Color("outcome:N"),
            row=alt.Row("dataset:N", title=None),
            tooltip=["dataset", "run_id", "outcome", "rows"],
        )
        .properties(height=60)
    )


def value_by_segment(segments_frame: pd.DataFrame) -> alt.Chart:
    """Predicted 12-month value per RFM segment (v_customer_value_segments)."""
    data = segments_frame.astype({"total_clv_12m": float, "avg_clv_12m": float})
    return (
        alt.Chart(data, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("total_clv_12m:Q", title="predicted 12-month value"),
            y=alt.Y("segment:N", sort="-x", title=None),
            color=alt.Color(
                "avg_p_alive:Q",
                title="average P(alive)",
                scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]),
            ),
            tooltip=[
                "segment",
                "customer_count",
                alt.Tooltip("total_clv_12m:Q", format=",.2f"),
                alt.Tooltip("avg_clv_12m:Q", format=",.2f"),
                alt.Tooltip("max_clv_12m:Q", format=",.2f"),
                alt.Tooltip("avg_p_alive:Q", format=".2f"),
            ],
        )
    )


def churn_risk_by_segment(segments_frame: pd.DataFrame) -> alt.Chart:
    """Customers of each RFM segment by churn-risk band, stacked."""
    data = segments_frame.assign(
        low_or_unknown=segments_frame["customer_count"]
        - segments_frame["high_risk_customers"]
        - segments_frame["medium_risk_customers"]
    ).melt(
        id_vars=["segment"],
        value_vars=["high_risk_customers", "medium_risk_customers", "low_or_unknown"],
        var_name="band",
        value_name="customers",
    )
    data["band"] = data["band"].map(
        {"high_risk_customers": "high", "medium_risk_customers": "medium", "low_or_unknown": "low"}
    )
    return (
        alt.Chart(data, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("customers:Q", stack="zero", title="customers"),
            y=alt.Y("segment:N", title=None),
            color=alt.Color(
                "band:N",
                title="churn risk",
                scale=alt.Scale(
                    domain=["high", "medium", "low"], range=["#d62728", "#ff7f0e", "#2ca02c"]
                ),
            ),
            tooltip=["segment", "band", "customers"],
        )
    )


def value_at_risk(customers: pd.DataFrame) -> alt.Chart:
    """The customers with the most value at risk: net spend x (1 - P(alive))."""
    data = customers.astype({"value_at_risk": float}).assign(
        customer=customers["customer_id"].astype(str)
    )
    return (
        alt.Chart(data, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("value_at_risk:Q", title="value at risk (net spend x (1 - P(alive)))"),
            y=alt.Y("customer:N", sort="-x", title="customer"),
            color=alt.Color(
                "churn_risk:N",
                title="churn risk",
                scale=alt.Scale(domain=["high", "medium"], range=["#d62728", "#ff7f0e"]),
            ),
            tooltip=[
                "customer",
                "segment",
                "churn_risk",
                alt.Tooltip("p_alive:Q", format=".2f"),
                alt.Tooltip("value_at_risk:Q", format=",.2f"),
            ],
        )
    )
