-- title: Revenue by country, last 12 months
-- description: Net revenue, orders and month-over-month growth per country for the 12 most recent months with sales.
select
    sales_month,
    country,
    orders,
    net_revenue,
    mom_growth
from v_monthly_revenue
where sales_month > date_add('month', -12, (select max(sales_month) from v_monthly_revenue))
order by sales_month desc, net_revenue desc
