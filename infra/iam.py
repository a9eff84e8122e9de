"""Least-privilege IAM policy documents, built by pure functions of the resources they cover."""

from __future__ import annotations

from typing import Any, TypeAlias

from troposphere import AWSHelperFn, Join, Sub

Arn: TypeAlias = str | AWSHelperFn
Document: TypeAlias = dict[str, Any]
Statement: TypeAlias = dict[str, Any]

# Actions that AWS does not scope to a resource: the only ones allowed on Resource "*", and then
# each with a Condition where one exists. tests/infra check every policy against this list.
UNSCOPED_ACTIONS = frozenset(
    {
        "cloudwatch:PutMetricData",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "athena:ListWorkGroups",
        "athena:ListEngineVersions",
        # Lake Formation vends credentials for any registered location; the action has no
        # resource type (the Step Functions page for Athena .sync grants it on "*").
        "lakeformation:GetDataAccess",
    }
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
    "gold": (("silver", "gold", "quality"), ("gold",)),
}
# What an analyst reads: the marts, and the quality records (tables of the gold database; they
# hold rule results and row counts, no rows and no PII).
ANALYST_PREFIXES = ("gold", "quality/results", "quality/runs")
# Prefixes an analyst must never read: raw files, raw rows and rejected rows hold PII in clear.
ANALYST_DENIED_PREFIXES = ("landing", "bronze", "quarantine", "_meta")

S3_READ = ["s3:GetObject", "s3:GetObjectVersion"]
S3_WRITE = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
LOGS_WRITE = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:AssociateKmsKey",
]
KMS_USE = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]


def statement(
    sid: str,
    actions: list[str],
    resources: list[Arn],
    *,
    effect: str = "Allow",
    condition: dict[str, Any] | None = None,
) -> Statement:
    """One IAM statement.

    Parameters
    ----------
    sid : str
        Statement id (letters and digits).
    actions : list of str
        IAM actions, never a bare ``*``.
    resources : list
        ARNs, as strings or CloudFormation functions.
    effect : str
        ``Allow`` or ``Deny``.
    condition : dict, optional
        An IAM Condition block.

    Returns
    -------
    dict
        The statement.
    """
    stmt: Statement = {"Sid": sid, "Effect": effect, "Action": sorted(actions)}
    stmt["Resource"] = resources
    if condition:
        stmt["Condition"] = condition
    return stmt


def document(*statements: Statement) -> Document:
    """A policy document (version 2012-10-17) of the given statements."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role_policy(service: str) -> Document:
    """A trust policy letting one AWS service assume the role, from this account only.

    Parameters
    ----------
    service : str
        The service principal, e.g. ``glue.amazonaws.com``.

    Returns
    -------
    dict
        The trust policy document.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": Sub("${AWS::AccountId}")}},
            }
        ],
    }


def objects(bucket_arn: Arn, prefix: str) -> Join:
    """The ARN of every object under ``prefix/`` in a bucket."""
    return Join("", [bucket_arn, f"/{prefix}/*"])


def _list_prefixes(
    sid: str, bucket_arn: Arn, prefixes: tuple[str, ...] | list[str]
) -> list[Statement]:
    """ListBucket limited to some prefixes, and GetBucketLocation (which has no prefix)."""
    allowed = [""] + [f"{p}/*" for p in prefixes] + list(prefixes)
    # A nested prefix's parents are listed too (S3A walks down to it: silver lists "_staging/"
    # before "_staging/checked/"); exactly, so only the names of their children show.
    for p in prefixes:
        parts = p.split("/")[:-1]
        allowed += ["/".join(parts[: i + 1]) + end for i in range(len(parts)) for end in ("", "/")]
    return [
        statement(
            sid,
            ["s3:ListBucket"],
            [bucket_arn],
            condition={"StringLike": {"s3:prefix": sorted(set(allowed))}},
        ),
        statement(f"{sid}Location", ["s3:GetBucketLocation"], [bucket_arn]),
    ]


def _log_groups(prefix: str) -> list[Sub]:
    return [
        Sub(
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{prefix}*"
        ),
        Sub(
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}"
            f":log-group:{prefix}*:log-stream:*"
        ),
    ]


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
        *_list_prefixes("ListLake", lake_bucket_arn, reads),
        statement("ReadLake", S3_READ, [objects(lake_bucket_arn, p) for p in reads]),
        statement("WriteLake", S3_WRITE, [objects(lake_bucket_arn, p) for p in writes]),
        *_list_prefixes("ListScripts", scripts_bucket_arn, ("jobs", "contracts", "temporary")),
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
            _log_groups("/aws-glue/"),
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


def crawler_policy(
    *,
    lake_bucket_arn: Arn,
    key_arn: Arn,
    database_names: list[Arn],
    layers: tuple[str, ...],
) -> Document:
    """What the crawlers may do: read the layers' Parquet and keep their databases' tables.

    Parameters
    ----------
    lake_bucket_arn : str or function
        The lake bucket's ARN.
    key_arn : str or function
        The stack's KMS key.
    database_names : list
        The Glue databases the crawlers write to.
    layers : tuple of str
        The lake prefixes crawled.

    Returns
    -------
    dict
        The policy document.
    """
    catalog = Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog")
    databases = [_glue_arn("database", db) for db in database_names]
    tables = [_glue_arn("table", db, "/*") for db in database_names]
    return document(
        *_list_prefixes("ListLake", lake_bucket_arn, layers),
        statement("ReadLake", S3_READ, [objects(lake_bucket_arn, p) for p in layers]),
        statement("UseKey", KMS_USE, [key_arn]),
        statement(
            "Catalog",
            [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
                "glue:CreatePartition",
                "glue:BatchCreatePartition",
                "glue:UpdatePartition",
                "glue:BatchUpdatePartition",
                "glue:CreatePartitionIndex",
                "glue:GetSecurityConfiguration",
            ],
            [catalog, *databases, *tables],
        ),
        statement(
            "Logs",
            LOGS_WRITE,
            _log_groups("/aws-glue/crawlers"),
        ),
    )


def _glue_arn(kind: str, database: Arn, suffix: str = "") -> Join:
    head = Sub(f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/")
    return Join("", [head, database, suffix])


def state_machine_policy(
    *,
    job_names: list[Arn],
    crawler_names: list[Arn],
    workgroup_name: Arn,
    gold_database: Arn,
    results_bucket_arn: Arn,
    topic_arn: Arn,
    key_arn: Arn,
) -> Document:
    """What the pipeline's state machine may do: run the jobs and crawlers, create views, alert.

    Parameters
    ----------
    job_names, crawler_names : list
        The Glue jobs and crawlers it starts.
    workgroup_name : str or function
        The Athena workgroup its view DDL runs in.
    gold_database : str or function
        The Glue database the views are created in.
    results_bucket_arn : str or function
        Where Athena writes query results.
    topic_arn : str or function
        The alert topic.
    key_arn : str or function
        The stack's KMS key (topic, results).

    Returns
    -------
    dict
        The policy document.
    """
    glue = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
    jobs = [Join("", [Sub(f"{glue}:job/"), n]) for n in job_names]
    crawlers = [Join("", [Sub(f"{glue}:crawler/"), n]) for n in crawler_names]
    workgroup = _workgroup_arn(workgroup_name)
    return document(
        statement(
            "RunJobs",
            ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            jobs,
        ),
        statement("RunCrawlers", ["glue:StartCrawler", "glue:GetCrawler"], crawlers),
        statement(
            "Queries",
            [
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
            ],
            [workgroup],
        ),
        # The rest of what the Athena .sync integration's documented policy asks for:
        # https://docs.aws.amazon.com/step-functions/latest/dg/athena-iam.html
        statement("DataCatalog", ["athena:GetDataCatalog"], [_data_catalog_arn()]),
        statement("LakeFormationData", ["lakeformation:GetDataAccess"], ["*"]),
        statement(
            "Views",
            [
                "glue:GetDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:DeleteTable",
                "glue:GetPartitions",
            ],
            [
                Sub(f"{glue}:catalog"),
                _glue_arn("database", gold_database),
                _glue_arn("table", gold_database, "/*"),
            ],
        ),
        *_list_prefixes("ListResults", results_bucket_arn, ("results",)),
        statement("ResultsUploads", ["s3:ListBucketMultipartUploads"], [results_bucket_arn]),
        statement(
            "WriteResults",
            [*S3_READ, "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            [objects(results_bucket_arn, "results")],
        ),
        statement("Alert", ["sns:Publish"], [topic_arn]),
        statement("UseKey", KMS_USE, [key_arn]),
        statement(
            "LogDelivery",
            [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            ["*"],
        ),
        statement(
            "Tracing",
            [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            ["*"],
        ),
    )


def _data_catalog_arn() -> Sub:
    """The account's Glue Data Catalog as Athena names it."""
    return Sub(
        "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:datacatalog/AwsDataCatalog"
    )


def _workgroup_arn(workgroup_name: Arn) -> Join:
    head = Sub("arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/")
    return Join("", [head, workgroup_name])


def schedule_policy(state_machine_arn: Arn) -> Document:
    """What EventBridge may do for the optional schedule: start the pipeline, nothing else."""
    return document(statement("StartPipeline", ["states:StartExecution"], [state_machine_arn]))


def analysts_policy(
    *,
    lake_bucket_arn: Arn,
    results_bucket_arn: Arn,
    key_arn: Arn,
    workgroup_name: Arn,
    gold_database: Arn,
    denied_databases: list[Arn],
    secret_arn: Arn,
) -> Document:
    """What an analyst may do: query gold in the workgroup; never read raw, rejected or PII data.

    Parameters
    ----------
    lake_bucket_arn, results_bucket_arn : str or function
        Bucket ARNs.
    key_arn : str or function
        The stack's KMS key.
    workgroup_name : str or function
        The Athena workgroup analysts query in.
    gold_database : str or function
        The one database they may read.
    denied_databases : list
        Databases whose tables they may never read (bronze, silver).
    secret_arn : str or function
        The PII salt; denied so hashed identifiers cannot be reversed by guessing.

    Returns
    -------
    dict
        The policy document.
    """
    workgroup = _workgroup_arn(workgroup_name)
    catalog = Sub("arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:catalog")
    return document(
        statement(
            "QueryInWorkgroup",
            [
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetQueryResultsStream",
                "athena:GetWorkGroup",
                "athena:ListQueryExecutions",
                "athena:ListNamedQueries",
                "athena:GetNamedQuery",
                "athena:BatchGetNamedQuery",
                "athena:BatchGetQueryExecution",
            ],
            [workgroup],
        ),
        statement("ListWorkgroups", ["athena:ListWorkGroups", "athena:ListEngineVersions"], ["*"]),
        # Browsing databases and tables in the Athena console: these take the data catalog.
        statement(
            "BrowseCatalog",
            [
                "athena:GetDataCatalog",
                "athena:ListDatabases",
                "athena:ListTableMetadata",
                "athena:GetTableMetadata",
            ],
            [_data_catalog_arn()],
        ),
        statement(
            "ReadGoldCatalog",
            [
                "glue:GetDatabase",
                "glue:GetDatabases",
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
            ],
            [
                catalog,
                _glue_arn("database", gold_database),
                _glue_arn("table", gold_database, "/*"),
            ],
        ),
        *_list_prefixes("ListGold", lake_bucket_arn, ANALYST_PREFIXES),
        statement("ReadGold", S3_READ, [objects(lake_bucket_arn, p) for p in ANALYST_PREFIXES]),
        *_list_prefixes("ListResults", results_bucket_arn, ("results",)),
        statement(
            "QueryResults",
            [*S3_READ, "s3:PutObject", "s3:AbortMultipartUpload"],
            [objects(results_bucket_arn, "results")],
        ),
        statement(
            "UseKeyThroughS3AndAthena",
            KMS_USE,
            [key_arn],
            condition={
                "StringLike": {
                    "kms:ViaService": [
                        Sub("s3.${AWS::Region}.amazonaws.com"),
                        Sub("athena.${AWS::Region}.amazonaws.com"),
                    ]
                }
            },
        ),
        statement(
            "DenyRawAndRejectedRows",
            ["s3:GetObject", "s3:GetObjectVersion"],
            [objects(lake_bucket_arn, p) for p in ANALYST_DENIED_PREFIXES],
            effect="Deny",
        ),
        statement(
            "DenyRawCatalog",
            [
                "glue:GetTable",
                "glue:GetTables",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
            ],
            [_glue_arn("table", db, "/*") for db in denied_databases],
            effect="Deny",
        ),
        statement("DenyPiiSalt", ["secretsmanager:GetSecretValue"], [secret_arn], effect="Deny"),
    )
