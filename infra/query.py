"""Athena: the analysts' workgroup (enforced, encrypted, capped) and their named queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Join, Ref, Sub, Template, athena

from infra.common import name, s3_uri, tags
from infra.storage import Storage
from medallion.spec.views import named_queries

ENGINE_VERSION = "Athena engine version 3"


@dataclass(frozen=True)
class Query:
    """The workgroup and its name."""

    workgroup: athena.WorkGroup
    workgroup_name: Sub


def logical_id(text: str) -> str:
    """A CloudFormation logical id from a snake_case name (``top_products``: ``TopProducts``)."""
    parts = text.replace("-", "_").split("_")
    return "".join(part.capitalize() for part in parts if part.isalnum())


def add_query(
    template: Template, storage: Storage, gold_database: Join, bytes_cutoff: Ref
) -> Query:
    """Add the workgroup and one named query per file of ``sql/named_queries/``.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        The results bucket and key.
    gold_database : Join
        The gold database's name, the named queries' context.
    bytes_cutoff : Ref
        The AthenaBytesScannedCutoff parameter: the most a single query may scan.

    Returns
    -------
    Query
        The workgroup.
    """
    workgroup_name = name("analysts")
    workgroup = template.add_resource(
        athena.WorkGroup(
            "AthenaWorkGroup",
            Name=workgroup_name,
            Description=Sub("medallion ${Environment}: analysts' queries and the pipeline's views"),
            State="ENABLED",
            RecursiveDeleteOption=True,
            WorkGroupConfiguration=athena.WorkGroupConfiguration(
                EnforceWorkGroupConfiguration=True,
                PublishCloudWatchMetricsEnabled=True,
                BytesScannedCutoffPerQuery=bytes_cutoff,
                EngineVersion=athena.EngineVersion(SelectedEngineVersion=ENGINE_VERSION),
                ResultConfiguration=athena.ResultConfiguration(
                    OutputLocation=s3_uri(storage.results, "results/"),
                    EncryptionConfiguration=athena.EncryptionConfiguration(
                        EncryptionOption="SSE_KMS", KmsKey=GetAtt(storage.key, "Arn")
                    ),
                ),
            ),
            Tags=tags(),
        )
    )
    for query in _named_queries():
        template.add_resource(
            athena.NamedQuery(
                f"NamedQuery{logical_id(query.name)}",
                Name=query.title[:128],
                Description=(query.description or query.title)[:1024],
                Database=gold_database,
                QueryString=query.sql,
                WorkGroup=Ref(workgroup),
            )
        )
    return Query(workgroup, workgroup_name)


def _named_queries() -> list[Any]:
    """The analysts' named queries, one per view file of sql/."""
    return list(named_queries())
