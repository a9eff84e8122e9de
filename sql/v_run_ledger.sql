-- v_run_ledger: rows in, clean, quarantined and duplicate per silver run and dataset
-- grain: one row per silver run and dataset
-- key: run_id, dataset
-- Reads the quality_runs table (quality/runs/ JSON Lines, in the gold database). is_balanced checks
-- the silver invariant rows_in = rows_clean + rows_quarantined + rows_duplicate. The records are
-- append-only: a re-run under the same run id adds an attempt, and this view shows the latest
-- attempt of each run and dataset (finished_at is an ISO-8601 string, so text order is time order).
-- rows_duplicate_event: of the duplicates, the copies of stream events removed by event id (0 in
-- records from before the stream).

with

runs as (

    select
        run_id,
        dataset,
        status,
        rows_in,
        rows_silver,
        rows_quarantined,
        rows_duplicate,
        coalesce(rows_duplicate_event, 0) as rows_duplicate_event,
        rows_flagged,
        failed_rules,
        started_at,
        finished_at
    from quality_runs

),

latest as (

    select
        runs.*,
        row_number() over (
            partition by run_id, dataset order by finished_at desc, started_at desc
        ) as attempt_rank
    from runs

),

final as (

    select
        run_id,
        dataset,
        status as run_status,
        rows_in,
        rows_silver as rows_clean,
        rows_quarantined,
        rows_duplicate,
        rows_duplicate_event,
        rows_flagged,
        rows_in = rows_silver + rows_quarantined + rows_duplicate as is_balanced,
        cast(rows_quarantined as double) / nullif(cast(rows_in as double), 0) as quarantine_ratio,
        cardinality(failed_rules) as failed_rule_count,
        started_at,
        finished_at
    from latest
    where attempt_rank = 1

)

select * from final
