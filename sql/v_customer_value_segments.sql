-- v_customer_value_segments: predicted 12-month value and churn risk of each RFM segment
-- grain: one row per RFM segment
-- key: segment
-- From customer_value (the BG/NBD and Gamma-Gamma predictions) joined to customer_rfm. A run
-- whose model could not be fitted has no predictions: the counts stay, the value columns are
-- NULL and valued_customers is 0 (model_status says why, per customer). The mart's predicted
-- money is double; shown here as money, rounded half-up to the cent.

with

customers as (

    select
        rfm.customer_id,
        rfm.segment,
        value.p_alive,
        value.expected_purchases_90d,
        value.clv_12m,
        value.churn_risk
    from customer_rfm as rfm
    inner join customer_value as value
        on rfm.customer_id = value.customer_id

),

segments as (

    select
        segment,
        count(*) as customer_count,
        count(clv_12m) as valued_customers,
        sum(clv_12m) as total_clv_12m,
        avg(clv_12m) as avg_clv_12m,
        min(clv_12m) as min_clv_12m,
        max(clv_12m) as max_clv_12m,
        avg(p_alive) as avg_p_alive,
        sum(expected_purchases_90d) as expected_purchases_90d,
        sum(case when churn_risk = 'high' then 1 else 0 end) as high_risk_customers,
        sum(case when churn_risk = 'medium' then 1 else 0 end) as medium_risk_customers,
        sum(case when churn_risk = 'high' then clv_12m else 0 end) as high_risk_clv_12m
    from customers
    group by segment

),

totals as (

    select sum(total_clv_12m) as all_clv_12m
    from segments

),

final as (

    select
        segments.segment,
        cast(segments.customer_count as bigint) as customer_count,
        cast(segments.valued_customers as bigint) as valued_customers,
        cast(round(segments.total_clv_12m, 2) as decimal(18, 2)) as total_clv_12m,
        cast(segments.total_clv_12m as double)
            / nullif(cast(totals.all_clv_12m as double), 0) as clv_share,
        cast(round(segments.avg_clv_12m, 2) as decimal(18, 2)) as avg_clv_12m,
        cast(round(segments.min_clv_12m, 2) as decimal(18, 2)) as min_clv_12m,
        cast(round(segments.max_clv_12m, 2) as decimal(18, 2)) as max_clv_12m,
        segments.avg_p_alive,
        segments.expected_purchases_90d,
        cast(segments.high_risk_customers as bigint) as high_risk_customers,
        cast(segments.medium_risk_customers as bigint) as medium_risk_customers,
        cast(round(segments.high_risk_clv_12m, 2) as decimal(18, 2)) as high_risk_clv_12m
    from segments
    cross join totals

)

select * from final
