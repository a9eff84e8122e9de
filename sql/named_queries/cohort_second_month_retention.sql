-- title: Second-month retention by cohort
-- description: For each first-purchase cohort, its size and the share of customers who bought again one and three months later.
select
    cohort_month,
    cohort_size,
    month_01,
    month_03
from v_cohort_retention
order by cohort_month
