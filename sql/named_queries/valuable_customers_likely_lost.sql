-- title: Valuable customers likely lost
-- description: Repeat customers with a high or medium churn risk (P(alive) under 0.7), largest value at risk (net spend x (1 - P(alive))) first, for a win-back campaign.
select
    customer_id,
    segment,
    churn_risk,
    p_alive,
    value_at_risk,
    monetary,
    clv_12m,
    recency_days
from v_customers_at_risk_by_value
order by risk_rank
limit 100
