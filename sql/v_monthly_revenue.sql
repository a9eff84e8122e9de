-- v_monthly_revenue: monthly revenue and month-over-month growth by country
-- grain: one row per calendar month and country with sales
-- key: sales_month, country
-- avg_order_value is gross revenue per order, as in gold.sales_daily.
-- Growth compares with the previous calendar month of the same country (not the previous row), and
-- is NULL when that month had no sales or no net revenue. Ratios are computed in double: Athena
-- divides decimals and integers differently from DuckDB. Counts are cast back to bigint because
-- DuckDB sums bigints into 128-bit integers. is_partial_month marks the first and last month of
-- the data when the data starts after their first day or ends before their last: their totals
-- (and the growth into or out of them) are not comparable with whole months.

with

sales as (

    select
        date_trunc('month', sales_date) as sales_month,
        country,
        orders,
        units,
        gross_revenue,
        cancelled_value,
        net_revenue
    from sales_daily

),

monthly as (

    select
        sales_month,
        country,
        cast(sum(orders) as bigint) as orders,
        cast(sum(units) as bigint) as units,
        sum(gross_revenue) as gross_revenue,
        sum(cancelled_value) as cancelled_value,
        sum(net_revenue) as net_revenue
    from sales
    group by sales_month, country

),

data_span as (

    select
        min(sales_date) as first_sales_date,
        max(sales_date) as last_sales_date
    from sales_daily

),

final as (

    select
        cur.sales_month,
        cur.country,
        cur.orders,
        cur.units,
        cur.gross_revenue,
        cur.cancelled_value,
        cur.net_revenue,
        cast(
            round(cast(cur.gross_revenue as double) / nullif(cast(cur.orders as double), 0), 2)
            as decimal(18, 2)
        ) as avg_order_value,
        prev.net_revenue as previous_net_revenue,
        cast(cur.net_revenue - prev.net_revenue as double)
            / nullif(cast(prev.net_revenue as double), 0) as mom_growth,
        (
            cur.sales_month = date_trunc('month', data_span.first_sales_date)
            and day(data_span.first_sales_date) > 1
        ) or (
            cur.sales_month = date_trunc('month', data_span.last_sales_date)
            and month(date_add('day', 1, data_span.last_sales_date))
                = month(data_span.last_sales_date)
        ) as is_partial_month
    from monthly as cur
    cross join data_span
    left join monthly as prev
        on prev.country = cur.country
        and date_add('month', 1, prev.sales_month) = cur.sales_month

)

select * from final
