"""The Glue Data Catalog: a database and a crawler per layer, and Glue encryption."""

from __future__ import annotations

import json
from dataclasses import dataclass

from troposphere import GetAtt, Join, Ref, Template, glue, iam

from infra.common import LAYERS, name, s3_uri
from infra.iam import service_role
from infra.policies.crawlers import crawler_policy
from infra.storage import Storage
from jobs.common import records

# Never delete a column or table: a file that lacks a column must not erase it for every reader.
# What a crawl never reads (glob patterns relative to the target path, `**` crossing folders):
# Spark's markers and uncommitted output, including files inside a crashed write's hidden
# `.spark-staging-*` folders, which `**/.*` alone does not reach.
# https://docs.aws.amazon.com/glue/latest/dg/define-crawler-choose-data-sources.html
CRAWLER_EXCLUSIONS = ["**/_SUCCESS", "**/_temporary/**", "**/.*", "**/.*/**"]
CRAWLER_CONFIGURATION = {
    "Version": 1.0,
    "CrawlerOutput": {
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
        "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},
    },
    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas", "TableLevelConfiguration": 3},
}


@dataclass(frozen=True)
class Catalog:
    """The catalog resources other parts of the stack refer to."""

    databases: dict[str, glue.Database]
    database_names: dict[str, Join]
    crawlers: dict[str, glue.Crawler]
    security_configuration: glue.SecurityConfiguration


def database_name(layer: str, prefix: Ref) -> Join:
    """The Glue database of a layer: ``<DatabasePrefix><layer>`` (``gold`` by default)."""
    return Join("", [prefix, layer])


def add_security_configuration(template: Template, storage: Storage) -> glue.SecurityConfiguration:
    """Add the Glue security configuration: S3 output, logs and bookmarks encrypted with the key.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        Where the key is.

    Returns
    -------
    glue.SecurityConfiguration
        The configuration jobs and crawlers name.
    """
    key_arn = GetAtt(storage.key, "Arn")
    return template.add_resource(
        glue.SecurityConfiguration(
            "GlueSecurityConfiguration",
            Name=name("glue"),
            EncryptionConfiguration=glue.EncryptionConfiguration(
                S3Encryptions=[glue.S3Encryption(S3EncryptionMode="SSE-KMS", KmsKeyArn=key_arn)],
                CloudWatchEncryption=glue.CloudWatchEncryption(
                    CloudWatchEncryptionMode="SSE-KMS", KmsKeyArn=key_arn
                ),
                JobBookmarksEncryption=glue.JobBookmarksEncryption(
                    JobBookmarksEncryptionMode="CSE-KMS", KmsKeyArn=key_arn
                ),
            ),
        )
    )


def add_catalog(template: Template, storage: Storage, prefix: Ref) -> Catalog:
    """Add the three databases, the crawlers' role and one crawler per layer.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        The lake bucket and key.
    prefix : Ref
        The DatabasePrefix parameter.

    Returns
    -------
    Catalog
        The resources added.
    """
    security = add_security_configuration(template, storage)
    names = {layer: database_name(layer, prefix) for layer in LAYERS}
    databases = {
        layer: template.add_resource(layer_database(layer, names[layer], storage))
        for layer in LAYERS
    }
    role = template.add_resource(crawler_role(storage, list(names.values())))
    crawlers = {
        layer: template.add_resource(
            layer_crawler(layer, databases[layer], role, storage, security)
        )
        for layer in LAYERS
    }
    add_quality_tables(template, storage, databases["gold"])
    return Catalog(databases, names, crawlers, security)


def layer_database(layer: str, database: Join, storage: Storage) -> glue.Database:
    """The Glue database of one layer, located at the layer's prefix of the lake.

    Parameters
    ----------
    layer : str
        ``bronze``, ``silver`` or ``gold``.
    database : Join
        Its name, from :func:`database_name`.
    storage : Storage
        The lake bucket.

    Returns
    -------
    glue.Database
        The database.
    """
    return glue.Database(
        f"{layer.capitalize()}Database",
        CatalogId=Ref("AWS::AccountId"),
        DatabaseInput=glue.DatabaseInput(
            Name=database,
            Description=f"medallion {layer} layer",
            LocationUri=s3_uri(storage.lake, f"{layer}/"),
        ),
    )


def crawler_role(storage: Storage, database_names: list[Join]) -> iam.Role:
    """The role every crawler runs as: read the layers, keep their databases' tables.

    Parameters
    ----------
    storage : Storage
        The lake bucket and key.
    database_names : list of Join
        The layers' databases.

    Returns
    -------
    iam.Role
        The role.
    """
    return service_role(
        "CrawlerRole",
        "the Glue crawlers",
        "glue.amazonaws.com",
        "crawl-lake-layers",
        crawler_policy(
            lake_bucket_arn=GetAtt(storage.lake, "Arn"),
            key_arn=GetAtt(storage.key, "Arn"),
            database_names=list(database_names),
            layers=LAYERS,
        ),
    )


def layer_crawler(
    layer: str,
    database: glue.Database,
    role: iam.Role,
    storage: Storage,
    security: glue.SecurityConfiguration,
) -> glue.Crawler:
    """The crawler that registers one layer's tables and partitions in its database.

    Parameters
    ----------
    layer : str
        ``bronze``, ``silver`` or ``gold``.
    database : glue.Database
        The layer's database.
    role : iam.Role
        The crawlers' role.
    storage : Storage
        The lake bucket.
    security : glue.SecurityConfiguration
        The Glue encryption settings.

    Returns
    -------
    glue.Crawler
        The crawler.
    """
    return glue.Crawler(
        f"{layer.capitalize()}Crawler",
        Name=name(f"{layer}-crawler"),
        Description=f"Registers the {layer} layer's tables and partitions",
        Role=GetAtt(role, "Arn"),
        DatabaseName=Ref(database),
        Targets=glue.Targets(
            S3Targets=[
                glue.S3Target(
                    Path=s3_uri(storage.lake, f"{layer}/"),
                    Exclusions=CRAWLER_EXCLUSIONS,
                )
            ]
        ),
        SchemaChangePolicy=glue.SchemaChangePolicy(
            UpdateBehavior="UPDATE_IN_DATABASE", DeleteBehavior="LOG"
        ),
        RecrawlPolicy=glue.RecrawlPolicy(RecrawlBehavior="CRAWL_EVERYTHING"),
        Configuration=json.dumps(CRAWLER_CONFIGURATION, sort_keys=True),
        CrawlerSecurityConfiguration=Ref(security),
        Tags={"project": "medallion", "environment": Ref("Environment")},
    )


def add_quality_tables(template: Template, storage: Storage, gold: glue.Database) -> None:
    """Define ``quality_results`` and ``quality_runs`` in the gold database.

    Declared, not crawled: the records carry ``dataset`` and ``run_id`` themselves, and a crawler
    would also make the ``dataset=``/``run_id=`` folders partition keys of the same names, which
    Athena refuses. The columns are the records' one definition, ``jobs.common.records``.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        The lake bucket.
    gold : glue.Database
        The gold database.
    """
    for table, record_table in records.TABLES.items():
        folder = f"{record_table.folder}/"
        columns = [glue.Column(Name=c, Type=t) for c, t in records.glue_columns(table)]
        template.add_resource(
            glue.Table(
                "".join(part.capitalize() for part in table.split("_")) + "Table",
                CatalogId=Ref("AWS::AccountId"),
                DatabaseName=Ref(gold),
                TableInput=glue.TableInput(
                    Name=table,
                    Description=f"JSON Lines under {folder} (docs/layers.md, Quality)",
                    TableType="EXTERNAL_TABLE",
                    Parameters={"classification": "json", "EXTERNAL": "TRUE"},
                    StorageDescriptor=glue.StorageDescriptor(
                        Columns=columns,
                        Location=s3_uri(storage.lake, folder),
                        InputFormat="org.apache.hadoop.mapred.TextInputFormat",
                        OutputFormat=("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
                        SerdeInfo=glue.SerdeInfo(
                            SerializationLibrary="org.openx.data.jsonserde.JsonSerDe"
                        ),
                    ),
                ),
            )
        )
