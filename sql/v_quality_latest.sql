-- v_quality_latest: the latest data-quality result of every rule of every dataset
-- grain: one row per dataset and rule, from the latest run that evaluated the rule
-- key: dataset, rule_id
-- Reads the quality_results table (quality/results/ JSON Lines, in the gold database).
-- evaluated_at is an ISO-8601 string, so ordering it as text orders it in time. A failing row or
-- parse rule quarantined rows (is_quarantining); a failing dataset rule (error severity) failed
-- the run (is_blocking).

with

results as (

    select
        run_id,
        dataset,
        rule_id,
        rule_type,
        scope,
        severity,
        target,
        checked,
        failed,
        fail_ratio,
        threshold,
        status,
        message,
        evaluated_at
    from quality_results

),

ranked as (

    select
        results.*,
        row_number() over (
            partition by dataset, rule_id order by evaluated_at desc, run_id desc
        ) as recency_rank
    from results

),

final as (

    select
        dataset,
        rule_id,
        rule_type,
        scope,
        severity,
        target,
        run_id,
        checked,
        failed,
        fail_ratio,
        threshold,
        status,
        status = 'fail' as is_failing,
        status = 'fail' and scope in ('row', 'parse') as is_quarantining,
        status = 'fail' and scope = 'dataset' as is_blocking,
        status in ('fail', 'warn') as is_attention_needed,
        message,
        evaluated_at
    from ranked
    where recency_rank = 1

)

select * from final
