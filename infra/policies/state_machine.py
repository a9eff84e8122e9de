"""The pipeline state machine's policy: one group of statements per service it calls."""

from __future__ import annotations

from troposphere import Join, Sub

from infra.iam import (
    KMS_USE,
    S3_READ,
    Arn,
    Document,
    Statement,
    data_catalog_arn,
    database_and_tables,
    document,
    list_prefixes,
    objects,
    statement,
    workgroup_arn,
)


def state_machine_policy(
    *,
    job_names: list[Arn],
    crawler_names: list[Arn],
    workgroup_name: Arn,
    gold_database: Arn,
    results_bucket_arn: Arn,
    lake_bucket_arn: Arn,
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
    lake_bucket_arn : str or function
        The lake, whose ``_meta/notices/`` (bronze's notice of what it left out) it reads.
    topic_arn : str or function
        The alert topic.
    key_arn : str or function
        The stack's KMS key (topic, results).

    Returns
    -------
    dict
        The policy document.
    """
    return document(
        *glue_runs(job_names, crawler_names),
        *athena_queries(workgroup_name),
        view_ddl(gold_database),
        *query_results(results_bucket_arn),
        # The run's notice, read by key (aws-sdk:s3:getObject): no listing.
        statement("ReadNotices", ["s3:GetObject"], [objects(lake_bucket_arn, "_meta/notices")]),
        statement("Alert", ["sns:Publish"], [topic_arn]),
        statement("UseKey", KMS_USE, [key_arn]),
        *logs_and_tracing(),
    )


def _glue_named(kind: str, names: list[Arn]) -> list[Join]:
    """Glue jobs or crawlers by name (``kind`` is ``job`` or ``crawler``)."""
    head = f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/"
    return [Join("", [Sub(head), n]) for n in names]


def glue_runs(job_names: list[Arn], crawler_names: list[Arn]) -> list[Statement]:
    """Start the Glue jobs and crawlers and wait for them (the ``.sync`` job integration).

    Parameters
    ----------
    job_names, crawler_names : list
        The Glue jobs and crawlers.

    Returns
    -------
    list of dict
        The statements.
    """
    return [
        statement(
            "RunJobs",
            ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            _glue_named("job", job_names),
        ),
        statement(
            "RunCrawlers",
            ["glue:StartCrawler", "glue:GetCrawler"],
            _glue_named("crawler", crawler_names),
        ),
    ]


def athena_queries(workgroup_name: Arn) -> list[Statement]:
    """Run the view DDL in the workgroup through the Athena ``.sync`` integration.

    Parameters
    ----------
    workgroup_name : str or function
        The Athena workgroup.

    Returns
    -------
    list of dict
        The statements.
    """
    return [
        statement(
            "Queries",
            [
                "athena:StartQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:StopQueryExecution",
                "athena:GetWorkGroup",
            ],
            [workgroup_arn(workgroup_name)],
        ),
        # The rest of what the Athena .sync integration's documented policy asks for:
        # https://docs.aws.amazon.com/step-functions/latest/dg/athena-iam.html
        statement("DataCatalog", ["athena:GetDataCatalog"], [data_catalog_arn()]),
        statement("LakeFormationData", ["lakeformation:GetDataAccess"], ["*"]),
    ]


def view_ddl(gold_database: Arn) -> Statement:
    """Create and replace the views of the gold database (the DDL runs as the state machine).

    Parameters
    ----------
    gold_database : str or function
        The gold Glue database.

    Returns
    -------
    dict
        The statement.
    """
    return statement(
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
        database_and_tables(gold_database),
    )


def query_results(results_bucket_arn: Arn) -> list[Statement]:
    """Write and read back the results of its queries under ``results/``.

    Parameters
    ----------
    results_bucket_arn : str or function
        The Athena results bucket.

    Returns
    -------
    list of dict
        The statements.
    """
    return [
        *list_prefixes("ListResults", results_bucket_arn, ("results",)),
        statement("ResultsUploads", ["s3:ListBucketMultipartUploads"], [results_bucket_arn]),
        statement(
            "WriteResults",
            [*S3_READ, "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            [objects(results_bucket_arn, "results")],
        ),
    ]


def logs_and_tracing() -> list[Statement]:
    """Deliver its execution logs and X-Ray traces; neither action takes a resource.

    Returns
    -------
    list of dict
        The statements, on ``Resource: "*"``.
    """
    return [
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
    ]
