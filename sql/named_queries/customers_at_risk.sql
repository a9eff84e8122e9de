-- title: Valuable customers at risk
-- description: Customers in the At Risk, Can't Lose Them and About To Sleep segments, highest spend first, for a win-back campaign.
select
    customer_id,
    segment,
    recency_days,
    frequency,
    monetary,
    rfm_score
from customer_rfm
where segment in ('At Risk', 'Can''t Lose Them', 'About To Sleep')
order by monetary desc
limit 100
