-- v_top_products: the ten best-selling products of each month by revenue
-- grain: one row per month and product, for the ten products with the highest revenue that month
-- key: sales_month, stock_code (also unique: sales_month, revenue_rank)
-- Ties in revenue are broken by stock code so the ranking is deterministic.

with

products as (

    select
        month as sales_month,
        stock_code,
        description,
        category,
        units_sold,
        revenue,
        units_returned,
        return_rate,
        review_count,
        avg_rating
    from product_monthly

),

ranked as (

    select
        products.*,
        row_number() over (
            partition by sales_month order by revenue desc, stock_code
        ) as revenue_rank,
        cast(revenue as double)
            / nullif(cast(sum(revenue) over (partition by sales_month) as double), 0)
            as revenue_share
    from products

),

final as (

    select
        sales_month,
        revenue_rank,
        stock_code,
        description,
        category,
        units_sold,
        revenue,
        revenue_share,
        units_returned,
        return_rate,
        review_count,
        avg_rating
    from ranked
    where revenue_rank <= 10

)

select * from final
