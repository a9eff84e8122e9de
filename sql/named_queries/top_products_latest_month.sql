-- title: Top 10 products, latest month
-- description: The ten products with the highest revenue in the most recent month, with returns and ratings.
select
    revenue_rank,
    stock_code,
    description,
    category,
    units_sold,
    revenue,
    revenue_share,
    return_rate,
    avg_rating
from v_top_products
where sales_month = (select max(sales_month) from v_top_products)
order by revenue_rank
