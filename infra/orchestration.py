"""The pipeline's state machine, from statemachine/pipeline.asl.json, with its role and logs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from troposphere import AWSHelperFn, GetAtt, Ref, Sub, Template, iam, logs, stepfunctions

from infra.catalog import Catalog
from infra.common import encrypted_log_group, name, s3_uri, tags
from infra.iam import service_role
from infra.jobs import Jobs
from infra.policies.state_machine import state_machine_policy
from infra.query import Query
from infra.storage import Storage
from medallion.spec.definition import render_definition
from medallion.spec.views import view_statements

# Integer placeholders are fixed here: a JSON number cannot come from a string parameter.
CRAWLER_POLL_SECONDS = 30
CRAWLER_MAX_POLLS = 120  # one hour for the three crawlers together
EXECUTION_TIMEOUT_SECONDS = 12 * 3600  # three jobs at the longest GlueTimeoutMinutes, then crawl
# Where a state machine's execution log group is: under /aws/vendedlogs/, where Step Functions
# may deliver.
STATE_MACHINE_LOGS = "/aws/vendedlogs/states/"

_TOKEN = re.compile(r"\$\{([^}!]*)\}")


class OrchestrationError(ValueError):
    """The state machine definition cannot be embedded in the template."""


@dataclass(frozen=True)
class Orchestration:
    """The state machine."""

    state_machine: stepfunctions.StateMachine


def placeholder_values(
    storage: Storage, catalog: Catalog, jobs: Jobs, query: Query, topic: object
) -> dict[str, AWSHelperFn]:
    """What each ``${Placeholder}`` of the definition is in this stack.

    Parameters
    ----------
    storage, catalog, jobs, query : dataclasses
        The stack's resources.
    topic : sns.Topic
        The alert topic.

    Returns
    -------
    dict
        Placeholder name to a CloudFormation value (a ``Fn::Sub`` variable).
    """
    values: dict[str, AWSHelperFn] = {
        "AlertTopicArn": Ref(topic),
        "AthenaWorkGroup": query.workgroup_name,
        "GoldDatabase": catalog.database_names["gold"],
        "LakeRoot": s3_uri(storage.lake),
        "LakeBucket": Ref(storage.lake),
        "LandingRoot": s3_uri(storage.lake, "landing"),
        "ContractsRoot": s3_uri(storage.scripts, "contracts/"),
        "PiiSaltSecretId": Ref(storage.pii_salt),
    }
    for layer, job_name in jobs.names.items():
        values[f"{layer.capitalize()}JobName"] = job_name
    for layer in catalog.crawlers:
        values[f"{layer.capitalize()}CrawlerName"] = name(f"{layer}-crawler")
    return values


def definition_string(values: Mapping[str, AWSHelperFn], parameters: set[str]) -> Sub:
    """The rendered definition as one ``Fn::Sub``: the ASL file, its views, this stack's values.

    Parameters
    ----------
    values : mapping
        Placeholder name to a CloudFormation value, from :func:`placeholder_values`.
    parameters : set of str
        Template parameters a ``${Name}`` may refer to directly (Environment).

    Returns
    -------
    Sub
        ``Fn::Sub [definition, values]``; moto and CloudFormation both resolve it.

    Raises
    ------
    OrchestrationError
        When the definition refers to something the stack does not provide.
    """
    substitutions = {key: f"${{{key}}}" for key in values}
    substitutions["Environment"] = "${Environment}"
    substitutions["CrawlerPollSeconds"] = str(CRAWLER_POLL_SECONDS)
    substitutions["CrawlerMaxPolls"] = str(CRAWLER_MAX_POLLS)
    substitutions["ExecutionTimeoutSeconds"] = str(EXECUTION_TIMEOUT_SECONDS)
    # The views go to the stack's gold database, which DatabasePrefix names (<prefix>gold).
    text = render_definition(substitutions, view_statements(database="${GoldDatabase}"))
    # Compact: the definition is most of the template, which CloudFormation caps in size.
    text = json.dumps(json.loads(text), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    known = set(values) | parameters
    used = set(_TOKEN.findall(text))
    unknown = sorted(t for t in used if t not in known and not t.startswith("AWS::"))
    if unknown:
        raise OrchestrationError(
            "the definition uses ${...} the stack does not provide: " + ", ".join(unknown)
        )
    return Sub(text, {key: value for key, value in sorted(values.items()) if key in used})


def add_orchestration(
    template: Template,
    *,
    storage: Storage,
    catalog: Catalog,
    jobs: Jobs,
    query: Query,
    topic: object,
    log_retention_days: Ref,
) -> Orchestration:
    """Add the state machine, its role and its encrypted log group.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage, catalog, jobs, query : dataclasses
        The resources the pipeline drives.
    topic : sns.Topic
        The alert topic.
    log_retention_days : Ref
        The LogRetentionDays parameter.

    Returns
    -------
    Orchestration
        The state machine.
    """
    log_group = template.add_resource(
        encrypted_log_group(
            "PipelineLogGroup", STATE_MACHINE_LOGS, "pipeline", storage.key, log_retention_days
        )
    )
    role = template.add_resource(
        pipeline_role(storage=storage, catalog=catalog, jobs=jobs, query=query, topic=topic)
    )
    values = placeholder_values(storage, catalog, jobs, query, topic)
    state_machine = template.add_resource(
        stepfunctions.StateMachine(
            "PipelineStateMachine",
            StateMachineName=name("pipeline"),
            StateMachineType="STANDARD",
            RoleArn=GetAtt(role, "Arn"),
            DefinitionString=definition_string(values, set(template.parameters)),
            **logging_and_tracing(log_group),
            # What its Task states name by string must exist before the first execution.
            DependsOn=[
                *(job.title for job in jobs.jobs.values()),
                *(crawler.title for crawler in catalog.crawlers.values()),
                query.workgroup.title,
            ],
            Tags=tags(),
        )
    )
    return Orchestration(state_machine)


def logging_and_tracing(log_group: logs.LogGroup) -> dict[str, Any]:
    """A state machine's logging (every event, with its data, to the log group) and X-Ray tracing.

    Parameters
    ----------
    log_group : logs.LogGroup
        Its execution log group (under :data:`STATE_MACHINE_LOGS`).

    Returns
    -------
    dict
        The ``LoggingConfiguration`` and ``TracingConfiguration`` properties of a
        ``stepfunctions.StateMachine``.
    """
    return {
        "LoggingConfiguration": stepfunctions.LoggingConfiguration(
            Level="ALL",
            IncludeExecutionData=True,
            Destinations=[
                stepfunctions.LogDestination(
                    CloudWatchLogsLogGroup=stepfunctions.CloudWatchLogsLogGroup(
                        LogGroupArn=GetAtt(log_group, "Arn")
                    )
                )
            ],
        ),
        "TracingConfiguration": stepfunctions.TracingConfiguration(Enabled=True),
    }


def pipeline_role(
    *, storage: Storage, catalog: Catalog, jobs: Jobs, query: Query, topic: object
) -> iam.Role:
    """The state machine's role: run the jobs and crawlers, create the views, alert.

    Parameters
    ----------
    storage, catalog, jobs, query : dataclasses
        The resources the pipeline drives.
    topic : sns.Topic
        The alert topic.

    Returns
    -------
    iam.Role
        The role.
    """
    return service_role(
        "PipelineRole",
        "the pipeline state machine",
        "states.amazonaws.com",
        "run-pipeline",
        state_machine_policy(
            job_names=list(jobs.names.values()),
            crawler_names=[name(f"{layer}-crawler") for layer in catalog.crawlers],
            workgroup_name=query.workgroup_name,
            gold_database=catalog.database_names["gold"],
            results_bucket_arn=GetAtt(storage.results, "Arn"),
            lake_bucket_arn=GetAtt(storage.lake, "Arn"),
            topic_arn=Ref(topic),
            key_arn=GetAtt(storage.key, "Arn"),
        ),
    )
