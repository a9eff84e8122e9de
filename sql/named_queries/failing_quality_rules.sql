-- title: Data-quality rules failing or warning
-- description: Every rule whose latest result is fail or warn, with how many rows failed and the message.
select
    dataset,
    rule_id,
    severity,
    status,
    failed,
    checked,
    fail_ratio,
    message,
    run_id
from v_quality_latest
where is_attention_needed
order by status, dataset, rule_id
