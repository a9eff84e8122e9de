-- v_cohort_retention: the cohort retention matrix, one column per month since first purchase
-- grain: one row per cohort (the calendar month of the customers' first purchase)
-- key: cohort_month
-- month_NN is the share of the cohort that bought NN months after its first month (month_00 is 1);
-- 0 when nobody did, NULL when that month is after the last month in the data. Month distances use
-- year * 12 + month arithmetic, never date_diff, whose boundary counting differs between engines.

with

cohorts as (

    select
        cohort_month,
        months_since,
        active_customers,
        cohort_size
    from cohort_retention

),

last_month as (

    select max(date_add('month', months_since, cohort_month)) as last_active_month
    from cohorts

),

observed as (

    select
        cohorts.cohort_month,
        cohorts.months_since,
        cohorts.cohort_size,
        cast(cohorts.active_customers as double)
            / nullif(cast(cohorts.cohort_size as double), 0) as retention_rate,
        (year(last_month.last_active_month) - year(cohorts.cohort_month)) * 12
            + month(last_month.last_active_month) - month(cohorts.cohort_month)
            as months_observed
    from cohorts
    cross join last_month

),

matrix as (

    select
        cohort_month,
        max(cohort_size) as cohort_size,
        max(months_observed) as months_observed,
        max(case when months_since = 0 then retention_rate end) as m00,
        max(case when months_since = 1 then retention_rate end) as m01,
        max(case when months_since = 2 then retention_rate end) as m02,
        max(case when months_since = 3 then retention_rate end) as m03,
        max(case when months_since = 4 then retention_rate end) as m04,
        max(case when months_since = 5 then retention_rate end) as m05,
        max(case when months_since = 6 then retention_rate end) as m06,
        max(case when months_since = 7 then retention_rate end) as m07,
        max(case when months_since = 8 then retention_rate end) as m08,
        max(case when months_since = 9 then retention_rate end) as m09,
        max(case when months_since = 10 then retention_rate end) as m10,
        max(case when months_since = 11 then retention_rate end) as m11,
        max(case when months_since = 12 then retention_rate end) as m12
    from observed
    group by cohort_month

),

final as (

    select
        cohort_month,
        cohort_size,
        months_observed,
        case when months_observed >= 0 then coalesce(m00, 0e0) end as month_00,
        case when months_observed >= 1 then coalesce(m01, 0e0) end as month_01,
        case when months_observed >= 2 then coalesce(m02, 0e0) end as month_02,
        case when months_observed >= 3 then coalesce(m03, 0e0) end as month_03,
        case when months_observed >= 4 then coalesce(m04, 0e0) end as month_04,
        case when months_observed >= 5 then coalesce(m05, 0e0) end as month_05,
        case when months_observed >= 6 then coalesce(m06, 0e0) end as month_06,
        case when months_observed >= 7 then coalesce(m07, 0e0) end as month_07,
        case when months_observed >= 8 then coalesce(m08, 0e0) end as month_08,
        case when months_observed >= 9 then coalesce(m09, 0e0) end as month_09,
        case when months_observed >= 10 then coalesce(m10, 0e0) end as month_10,
        case when months_observed >= 11 then coalesce(m11, 0e0) end as month_11,
        case when months_observed >= 12 then coalesce(m12, 0e0) end as month_12
    from matrix

)

select * from final
