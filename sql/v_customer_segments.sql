-- v_customer_segments: size, revenue share and average recency of each RFM segment
-- grain: one row per RFM segment
-- key: segment
-- Revenue is the customers' net revenue (customer_rfm.monetary); shares are of all scored customers.

with

customers as (

    select
        customer_id,
        segment,
        recency_days,
        frequency,
        monetary
    from customer_rfm

),

segments as (

    select
        segment,
        count(*) as customer_count,
        sum(monetary) as revenue,
        avg(cast(recency_days as double)) as avg_recency_days,
        avg(cast(frequency as double)) as avg_frequency,
        -- money stays exact: Athena averages a decimal as a decimal, DuckDB as a double, so
        -- both are rounded to the cent and cast back
        cast(round(avg(monetary), 2) as decimal(18, 2)) as avg_monetary
    from customers
    group by segment

),

totals as (

    select
        sum(customer_count) as all_customers,
        sum(revenue) as all_revenue
    from segments

),

final as (

    select
        segments.segment,
        segments.customer_count,
        cast(segments.customer_count as double)
            / nullif(cast(totals.all_customers as double), 0) as customer_share,
        segments.revenue,
        cast(segments.revenue as double)
            / nullif(cast(totals.all_revenue as double), 0) as revenue_share,
        segments.avg_recency_days,
        segments.avg_frequency,
        segments.avg_monetary
    from segments
    cross join totals

)

select * from final
