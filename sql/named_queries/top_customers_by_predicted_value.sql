-- title: Top customers by predicted value
-- description: The 100 customers with the highest predicted 12-month customer lifetime value (BG/NBD x Gamma-Gamma, customer_value), with their RFM segment and churn risk.
select
    value.customer_id,
    rfm.segment,
    cast(round(value.clv_12m, 2) as decimal(18, 2)) as clv_12m,
    value.expected_purchases_365d,
    cast(round(value.expected_avg_spend, 2) as decimal(18, 2)) as expected_avg_spend,
    value.p_alive,
    value.churn_risk,
    rfm.monetary
from customer_value as value
inner join customer_rfm as rfm
    on value.customer_id = rfm.customer_id
where value.clv_12m is not null
order by value.clv_12m desc, value.customer_id
limit 100
