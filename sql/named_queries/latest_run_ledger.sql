-- title: Row ledger of the latest runs
-- description: Rows in, clean, quarantined and duplicate for the 20 most recent silver runs per dataset.
select
    run_id,
    dataset,
    run_status,
    rows_in,
    rows_clean,
    rows_quarantined,
    rows_duplicate,
    is_balanced,
    started_at
from v_run_ledger
order by started_at desc, dataset
limit 20
