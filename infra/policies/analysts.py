"""The analysts' policy: query gold in the workgroup; never read raw, rejected or PII data."""

from __future__ import annotations

from troposphere import Sub

from infra.iam import (
    KMS_USE,
    S3_READ,
    Arn,
    Document,
    Statement,
    data_catalog_arn,
    database_and_tables,
    document,
    glue_arn,
    list_prefixes,
    objects,
    statement,
    workgroup_arn,
)

# What an analyst reads: the marts, and the quality records (tables of the gold database; they
# hold rule results and row counts, no rows and no PII).
ANALYST_PREFIXES = ("gold", "quality/results", "quality/runs")
# Prefixes an analyst must never read: raw files, raw rows and rejected rows hold PII in clear.
ANALYST_DENIED_PREFIXES = ("landing", "bronze", "quarantine", "_meta")


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
    return document(
        *workgroup_queries(workgroup_name),
        *gold_reads(lake_bucket_arn, gold_database),
        *results_and_key(results_bucket_arn, key_arn),
        *denials(lake_bucket_arn, denied_databases, secret_arn),
    )


def workgroup_queries(workgroup_name: Arn) -> list[Statement]:
    """Query in the workgroup, see the workgroups, browse the catalog in the Athena console.

    Parameters
    ----------
    workgroup_name : str or function
        The analysts' Athena workgroup.

    Returns
    -------
    list of dict
        The statements.
    """
    return [
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
            [workgroup_arn(workgroup_name)],
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
            [data_catalog_arn()],
        ),
    ]


def gold_reads(lake_bucket_arn: Arn, gold_database: Arn) -> list[Statement]:
    """Read the gold database's tables and the lake prefixes behind them.

    Parameters
    ----------
    lake_bucket_arn : str or function
        The lake bucket.
    gold_database : str or function
        The gold Glue database.

    Returns
    -------
    list of dict
        The statements.
    """
    return [
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
            database_and_tables(gold_database),
        ),
        *list_prefixes("ListGold", lake_bucket_arn, ANALYST_PREFIXES),
        statement("ReadGold", S3_READ, [objects(lake_bucket_arn, p) for p in ANALYST_PREFIXES]),
    ]


def results_and_key(results_bucket_arn: Arn, key_arn: Arn) -> list[Statement]:
    """Keep query results under ``results/``, and use the key only through S3 and Athena.

    Parameters
    ----------
    results_bucket_arn : str or function
        The Athena results bucket.
    key_arn : str or function
        The stack's KMS key.

    Returns
    -------
    list of dict
        The statements.
    """
    return [
        *list_prefixes("ListResults", results_bucket_arn, ("results",)),
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
    ]


def denials(lake_bucket_arn: Arn, denied_databases: list[Arn], secret_arn: Arn) -> list[Statement]:
    """Explicit denies, so no other policy attached to an analyst opens raw rows or the salt.

    Parameters
    ----------
    lake_bucket_arn : str or function
        The lake bucket.
    denied_databases : list
        Databases whose tables are denied (bronze, silver).
    secret_arn : str or function
        The PII salt.

    Returns
    -------
    list of dict
        The Deny statements.
    """
    return [
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
            [glue_arn("table", db, "/*") for db in denied_databases],
            effect="Deny",
        ),
        statement("DenyPiiSalt", ["secretsmanager:GetSecretValue"], [secret_arn], effect="Deny"),
    ]
