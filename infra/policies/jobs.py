"""The Glue jobs' policy: each layer's job reads and writes only its own lake prefixes."""

from __future__ import annotations

from troposphere import Join

from infra.iam import (
    KMS_USE,
    LOGS_WRITE,
    S3_READ,
    S3_WRITE,
    Arn,
    Document,
    document,
    list_prefixes,
    log_groups,
    objects,
    statement,
)

# What each Glue job reads and writes under the lake root (ARCHITECTURE.md, "The lake").
JOB_PREFIXES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "bronze": (("landing", "bronze", "_meta"), ("bronze", "_meta")),
    # Silver stages each batch under _staging/checked/<ds>/run_id=<run>/ and rewritten
    # partitions under _staging/silver/<ds>/run_id=<run>/, reads them back and deletes them.
    "silver": (
        (
            "bronze",
            "silver",
            "quarantine",
            "quality",
            "_meta",
            "_staging/checked",
            "_staging/silver",
        ),
        ("silver", "quarantine", "quality", "_staging/checked", "_staging/silver"),
    ),
    # Gold writes the customer-value model's quality results (dataset=customer_value), keeps
    # what it consumed and its customer-activity table under _meta/gold/, and stages each new
    # mart version under _staging/gold/ before publishing it (jobs/gold/publish.py).
    "gold": (
        ("silver", "gold", "quality", "_meta/gold", "_staging/gold"),
        ("gold", "quality", "_meta/gold", "_staging/gold"),
    ),
}


def glue_job_policy(
    layer: str,
    *,
    lake_bucket_arn: Arn,
    scripts_bucket_arn: Arn,
    key_arn: Arn,
    secret_arn: Arn | None = None,
) -> Document:
    """What one layer's Glue job may do: its lake prefixes, the scripts, its logs and metrics.

    Parameters
    ----------
    layer : str
        ``bronze``, ``silver`` or ``gold``.
    lake_bucket_arn, scripts_bucket_arn : str or function
        Bucket ARNs.
    key_arn : str or function
        The stack's KMS key, which encrypts the buckets and logs.
    secret_arn : str or function, optional
        The PII salt secret; only the silver job gets it.

    Returns
    -------
    dict
        The policy document.
    """
    reads, writes = JOB_PREFIXES[layer]
    statements = [
        *list_prefixes("ListLake", lake_bucket_arn, reads),
        statement("ReadLake", S3_READ, [objects(lake_bucket_arn, p) for p in reads]),
        statement("WriteLake", S3_WRITE, [objects(lake_bucket_arn, p) for p in writes]),
        *list_prefixes("ListScripts", scripts_bucket_arn, ("jobs", "contracts", "temporary")),
        statement(
            "ReadScripts",
            S3_READ,
            [
                objects(scripts_bucket_arn, "jobs"),
                Join("", [scripts_bucket_arn, "/jobs.zip"]),
                objects(scripts_bucket_arn, "contracts"),
            ],
        ),
        statement(
            "GlueTemporary",
            S3_READ + S3_WRITE,
            [objects(scripts_bucket_arn, f"temporary/{layer}")],
        ),
        statement("UseKey", KMS_USE, [key_arn]),
        statement(
            "Logs",
            LOGS_WRITE,
            log_groups("/aws-glue/"),
        ),
        statement(
            "Metrics",
            ["cloudwatch:PutMetricData"],
            ["*"],
            condition={"StringEquals": {"cloudwatch:namespace": "Glue"}},
        ),
    ]
    if secret_arn is not None:
        statements.append(statement("PiiSalt", ["secretsmanager:GetSecretValue"], [secret_arn]))
    return document(*statements)
