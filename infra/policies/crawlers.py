"""The crawlers' policy: read the layers' Parquet, keep the tables of their databases."""

from __future__ import annotations

from infra.iam import (
    KMS_USE,
    LOGS_WRITE,
    S3_READ,
    Arn,
    Document,
    document,
    glue_arn,
    glue_catalog_arn,
    list_prefixes,
    log_groups,
    objects,
    statement,
)

# What a crawl does to the catalog: read and add tables and partitions, never delete them.
CRAWLER_CATALOG_ACTIONS = [
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
]


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
    databases = [glue_arn("database", db) for db in database_names]
    tables = [glue_arn("table", db, "/*") for db in database_names]
    return document(
        *list_prefixes("ListLake", lake_bucket_arn, layers),
        statement("ReadLake", S3_READ, [objects(lake_bucket_arn, p) for p in layers]),
        statement("UseKey", KMS_USE, [key_arn]),
        statement("Catalog", CRAWLER_CATALOG_ACTIONS, [glue_catalog_arn(), *databases, *tables]),
        statement(
            "Logs",
            LOGS_WRITE,
            log_groups("/aws-glue/crawlers"),
        ),
    )
