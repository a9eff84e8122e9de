-- v_customers_at_risk_by_value: customers likely slipping away, the most valuable first
-- grain: one row per repeat customer whose churn risk is high or medium
-- key: customer_id
-- value_at_risk is what the customer has spent (customer_rfm.monetary, net) times the
-- probability they are no longer active (1 - p_alive): a large past spend and a low P(alive)
-- rank first (on the unrounded value). Customers without a repeat purchase have p_alive 1 under
-- BG/NBD and never appear. Money is shown rounded half-up to the cent.

with

customers as (

    select
        value.customer_id,
        rfm.segment,
        rfm.recency_days,
        value.frequency,
        rfm.monetary,
        value.p_alive,
        value.expected_purchases_90d,
        value.clv_12m,
        value.churn_risk,
        value.observation_end
    from customer_value as value
    inner join customer_rfm as rfm
        on value.customer_id = rfm.customer_id
    where value.churn_risk in ('high', 'medium')

),

scored as (

    select
        customers.*,
        cast(monetary as double) * (1 - p_alive) as value_at_risk
    from customers

),

final as (

    select
        customer_id,
        row_number() over (order by value_at_risk desc, customer_id asc) as risk_rank,
        segment,
        churn_risk,
        p_alive,
        cast(round(value_at_risk, 2) as decimal(18, 2)) as value_at_risk,
        monetary,
        cast(round(clv_12m, 2) as decimal(18, 2)) as clv_12m,
        expected_purchases_90d,
        frequency,
        recency_days,
        observation_end
    from scored

)

select * from final
