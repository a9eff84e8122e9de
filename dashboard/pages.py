"""The dashboard's pages: each reads the gold views through dashboard.data and draws with altair."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard.data import query, source


def _caption(view: str) -> None:
    st.caption(f"From `{view}` in {source().describe()} · same SQL as `medallion query`.")


def revenue_trend() -> None:
    """Monthly net revenue by country and its month-over-month growth."""
    st.header("Revenue trend")
    monthly = query("select * from v_monthly_revenue order by sales_month, country")
    if monthly is None or monthly.empty:
        return
    countries = sorted(monthly["country"].unique())
    top = monthly.groupby("country")["net_revenue"].sum().sort_values(ascending=False).index[:5]
    chosen = st.multiselect("Countries", countries, default=list(top))
    shown = monthly[monthly["country"].isin(chosen)] if chosen else monthly
    total = query(
        """
        with monthly as (
            select sales_month, sum(net_revenue) as net_revenue, sum(orders) as orders
            from v_monthly_revenue group by sales_month
        )
        select
            sales_month, net_revenue, orders,
            cast(net_revenue - lag(net_revenue) over (order by sales_month) as double)
                / nullif(cast(lag(net_revenue) over (order by sales_month) as double), 0)
                as mom_growth
        from monthly order by sales_month
        """
    )
    if total is not None and not total.empty:
        last = total.iloc[-1]
        cols = st.columns(3)
        cols[0].metric("Latest month", str(last["sales_month"])[:7])
        growth = last["mom_growth"]
        cols[1].metric(
            "Net revenue",
            f"{float(last['net_revenue']):,.0f}",
            delta=None if growth != growth else f"{growth:+.1%}",
        )
        cols[2].metric("Orders", f"{int(last['orders']):,}")
    st.altair_chart(charts.revenue_trend(shown), use_container_width=True)
    partial = sorted({str(m)[:7] for m in monthly.loc[monthly["is_partial_month"], "sales_month"]})
    if partial:
        st.caption(f"Partial months (the data does not cover them whole): {', '.join(partial)}.")
    if total is not None and not total.empty:
        st.subheader("Growth, all countries")
        st.altair_chart(charts.growth_bars(total), use_container_width=True)
    _caption("v_monthly_revenue")


def top_products() -> None:
    """The ten products with the highest revenue in a chosen month."""
    st.header("Top products")
    products = query("select * from v_top_products order by sales_month desc, revenue_rank")
    if products is None or products.empty:
        return
    months = sorted(products["sales_month"].unique(), reverse=True)
    month = st.selectbox("Month", months, format_func=lambda m: str(m)[:7])
    chosen = products[products["sales_month"] == month]
    st.altair_chart(charts.top_products(chosen), use_container_width=True)
    st.dataframe(chosen.drop(columns=["sales_month"]), hide_index=True, use_container_width=True)
    _caption("v_top_products")


def rfm_segments() -> None:
    """How many customers each RFM segment has, what they spend and how recently."""
    st.header("RFM segments")
    seg = query("select * from v_customer_segments order by revenue desc")
    if seg is None or seg.empty:
        return
    cols = st.columns(2)
    cols[0].metric("Customers scored", f"{int(seg['customer_count'].sum()):,}")
    cols[1].metric("Segments", len(seg))
    st.altair_chart(charts.segments(seg), use_container_width=True)
    st.altair_chart(charts.recency(seg), use_container_width=True)
    st.dataframe(seg, hide_index=True, use_container_width=True)
    _caption("v_customer_segments")


def cohort_heat_map() -> None:
    """Share of each first-purchase cohort buying again N months later."""
    st.header("Cohort retention")
    matrix = query("select * from v_cohort_retention order by cohort_month")
    if matrix is None or matrix.empty:
        return
    st.altair_chart(charts.cohort_heatmap(matrix), use_container_width=True)
    _caption("v_cohort_retention")


def inventory_alerts() -> None:
    """Stock-outs, low cover and reorders due on the latest snapshot."""
    st.header("Inventory alerts")
    alerts = query("select * from v_inventory_alerts order by alert_priority, days_of_cover")
    if alerts is None:
        return
    counts = alerts["alert_type"].value_counts()
    cols = st.columns(3)
    for col, kind in zip(cols, ("stock_out", "low_cover", "reorder"), strict=True):
        col.metric(kind.replace("_", " "), int(counts.get(kind, 0)))
    if alerts.empty:
        st.success("No alerts on the latest snapshot.")
        return
    st.caption(f"Snapshot of {str(alerts['snapshot_date'].max())[:10]}")
    st.altair_chart(charts.alerts_by_warehouse(alerts), use_container_width=True)
    st.dataframe(alerts, hide_index=True, use_container_width=True)
    _caption("v_inventory_alerts")


def data_quality() -> None:
    """Rule results over runs, the rules needing attention and rows quarantined by reason."""
    st.header("Data quality")
    over_runs = query(
        """
        select dataset, run_id, status, count(*) as rules
        from quality_results
        group by dataset, run_id, status
        order by dataset, run_id
        """
    )
    if over_runs is not None and not over_runs.empty:
        st.subheader("Rule results over runs")
        st.altair_chart(charts.rule_results_over_runs(over_runs))
    reasons = query(
        """
        select dataset, rule_id, sum(failed) as rows_quarantined
        from quality_results
        where scope in ('row', 'parse') and severity = 'error' and failed > 0
        group by dataset, rule_id
        order by rows_quarantined desc
        """
    )
    if reasons is not None:
        st.subheader("Quarantined rows by reason")
        if reasons.empty:
            st.success("No row was quarantined.")
        else:
            st.altair_chart(charts.quarantined_by_reason(reasons), use_container_width=True)
    latest = query(
        "select * from v_quality_latest where is_attention_needed order by dataset, rule_id"
    )
    if latest is not None:
        st.subheader("Rules failing or warning now")
        if latest.empty:
            st.success("Every rule passes in its latest run.")
        else:
            st.dataframe(latest, hide_index=True, use_container_width=True)
    runs = query("select * from v_run_ledger order by started_at desc, dataset")
    if runs is not None and not runs.empty:
        st.subheader("Row ledger per run")
        st.altair_chart(charts.ledger(runs.head(60)))
        st.dataframe(runs, hide_index=True, use_container_width=True)
    _caption("quality_results, v_quality_latest and v_run_ledger")


def customer_value() -> None:
    """Predicted 12-month value by RFM segment and the valuable customers slipping away."""
    st.header("Customer value")
    models = query("select * from customer_value_model order by fitted_at desc limit 1")
    if models is None or models.empty:
        return
    model = models.iloc[0]
    if model["status"] != "ok":
        st.warning(f"The model of run {model['run_id']} is {model['status']}: {model['reasons']}")
    segments = query("select * from v_customer_value_segments order by total_clv_12m desc")
    at_risk = query("select * from v_customers_at_risk_by_value order by risk_rank limit 20")
    if segments is None or segments.empty:
        return
    cols = st.columns(4)
    cols[0].metric("Predicted 12-month value", f"{float(segments['total_clv_12m'].sum()):,.0f}")
    cols[1].metric(
        "Purchases expected in 90 days", f"{segments['expected_purchases_90d'].sum():,.0f}"
    )
    cols[2].metric(
        "Customers at high churn risk", f"{int(segments['high_risk_customers'].sum()):,}"
    )
    cols[3].metric("Customers fitted", f"{int(model['customers']):,}")
    st.subheader("Value by RFM segment")
    st.altair_chart(charts.value_by_segment(segments), use_container_width=True)
    st.altair_chart(charts.churn_risk_by_segment(segments), use_container_width=True)
    if at_risk is not None and not at_risk.empty:
        st.subheader("Most at risk, by value")
        st.altair_chart(charts.value_at_risk(at_risk), use_container_width=True)
        st.dataframe(at_risk, hide_index=True, use_container_width=True)
    with st.expander("Model of the latest run"):
        shown = {k: _number(model[k]) for k in (
            "bg_nbd_r", "bg_nbd_alpha", "bg_nbd_a", "bg_nbd_b", "frequency_monetary_corr",
        )}  # fmt: skip
        st.caption(
            f"BG/NBD r={shown['bg_nbd_r']} alpha={shown['bg_nbd_alpha']} a={shown['bg_nbd_a']} "
            f"b={shown['bg_nbd_b']}; corr(frequency, monetary) = "
            f"{shown['frequency_monetary_corr']}; monthly discount rate "
            f"{float(model['monthly_discount_rate']):.2%}."
        )
        st.dataframe(models.T.rename(columns={0: "value"}).astype(str), use_container_width=True)
    _caption("v_customer_value_segments, v_customers_at_risk_by_value and customer_value_model")


def _number(value: object) -> str:
    """A model figure to 4 significant digits; a dash when the run has none."""
    return "-" if value is None or pd.isna(value) else f"{float(value):.4g}"  # type: ignore[arg-type]
