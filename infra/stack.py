"""Assembles the whole stack of one environment: parameters, resources, conditions, outputs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from troposphere import (
    Equals,
    GetAtt,
    Not,
    Output,
    Parameter,
    Ref,
    Sub,
    Template,
    iam,
)

from infra.alerts import HAS_ALERT_EMAIL, HAS_BUDGET, Alerts, add_alerts, add_failed_runs_alarm
from infra.arrival import (
    ARRIVAL_PARAMETERS,
    HAS_ARRIVAL,
    add_arrival,
    add_arrival_conditions,
)
from infra.catalog import Catalog, add_catalog
from infra.common import LAYERS, name
from infra.database import (
    DATABASE_PARAMETERS,
    add_database,
    add_database_conditions,
    add_database_policy,
)
from infra.jobs import Jobs, JobSettings, add_jobs
from infra.orchestration import Orchestration, add_orchestration
from infra.policies.analysts import analysts_policy
from infra.query import Query, add_query
from infra.schedule import HAS_SCHEDULE, add_schedule
from infra.storage import Storage, add_storage
from infra.stream import (
    HAS_STREAM,
    HAS_STREAM_API,
    STREAM_PARAMETERS,
    Stream,
    add_stream,
    add_stream_conditions,
)

ENV_PATTERN = r"^[a-z][a-z0-9]{1,9}$"
LOG_RETENTION_DAYS = [
    *(1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365),
    *(400, 545, 731, 1096, 1827, 3653),
]

#: The outputs the CLI and the other commands read (``medallion start``, ``medallion query --aws``).
REQUIRED_OUTPUTS = (
    "PipelineStateMachineArn",
    "LakeBucketName",
    "ScriptsBucketName",
    "AlertTopicArn",
    "AthenaWorkGroupName",
    "GoldDatabaseName",
)


# Every parameter but Environment, whose default is the environment rendered: a table read as
# data, in the order the console lists them.
PARAMETERS: dict[str, dict[str, Any]] = {
    "AlertEmail": dict(
        Type="String",
        Default="",
        AllowedPattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+$",
        ConstraintDescription="an email address, or empty for no subscription",
        Description="Who is emailed when a run fails (confirm the email AWS sends first)",
    ),
    "GlueWorkerType": dict(
        Type="String",
        Default="G.1X",
        AllowedValues=["G.1X", "G.2X", "G.4X", "G.8X"],
        Description="Glue worker type (G.1X = 1 DPU: 4 vCPU, 16 GB)",
    ),
    "GlueMaxWorkers": dict(
        Type="Number",
        Default=10,
        MinValue=2,
        MaxValue=100,
        Description="Most workers a job may scale out to (auto scaling uses fewer when it can)",
    ),
    "GlueTimeoutMinutes": dict(
        Type="Number",
        Default=60,
        MinValue=5,
        MaxValue=180,
        Description="A job run is stopped (and the run fails) after this many minutes",
    ),
    "Schedule": dict(
        Type="String",
        Default="",
        Description="EventBridge schedule that starts the pipeline, e.g. cron(0 5 * * ? *); "
        "empty for none",
    ),
    "MonthlyBudget": dict(
        Type="Number",
        Default=0,
        MinValue=0,
        Description="Monthly AWS cost budget in USD that alerts the topic at 80% actual and "
        "100% forecast; 0 for none",
    ),
    "AthenaBytesScannedCutoff": dict(
        Type="Number",
        Default=10 * 1024**3,
        MinValue=10 * 1024**2,
        Description="Most bytes one Athena query in the workgroup may scan (10 GiB = $0.05)",
    ),
    "DatabasePrefix": dict(
        Type="String",
        Default="",
        AllowedPattern=r"^[a-z0-9_]*$",
        Description="Prefix of the Glue databases (bronze, silver, gold) when environments "
        "share an account, e.g. dev_",
    ),
    "LogRetentionDays": dict(
        Type="Number",
        Default=30,
        AllowedValues=LOG_RETENTION_DAYS,
        Description="Days the state machine's logs and the S3 access logs are kept",
    ),
    "BronzeNoncurrentVersionDays": dict(
        Type="Number",
        Default=30,
        MinValue=1,
        Description="Days a replaced or deleted bronze object version is kept",
    ),
    "AthenaResultsExpirationDays": dict(
        Type="Number",
        Default=30,
        MinValue=1,
        Description="Days Athena query results are kept",
    ),
    **DATABASE_PARAMETERS,
    **STREAM_PARAMETERS,
    **ARRIVAL_PARAMETERS,
}

# How the console groups the parameters an operator is most likely to set.
PARAMETER_GROUPS = {
    "Environment": ["Environment", "AlertEmail"],
    "Glue": ["GlueWorkerType", "GlueMaxWorkers", "GlueTimeoutMinutes"],
    "Operations": ["Schedule", "MonthlyBudget", "AthenaBytesScannedCutoff"],
    "Database source (optional)": list(DATABASE_PARAMETERS),
    "Order stream (optional)": list(STREAM_PARAMETERS),
    "Runs on arrival (optional)": list(ARRIVAL_PARAMETERS),
}

# What the bootstrap template's storage refers to; the other parameters are dropped from it.
BOOTSTRAP_PARAMETERS = {
    "Environment",
    "BronzeNoncurrentVersionDays",
    "AthenaResultsExpirationDays",
    "LogRetentionDays",
}


@dataclass(frozen=True)
class _Pipeline:
    """The parts of the full stack beyond storage, which the outputs and analysts refer to."""

    storage: Storage
    catalog: Catalog
    jobs: Jobs
    query: Query
    alerts: Alerts
    orchestration: Orchestration
    stream: Stream


def _parameters(template: Template, env: str) -> dict[str, Parameter]:
    environment = dict(
        Type="String",
        Default=env,
        AllowedPattern=ENV_PATTERN,
        ConstraintDescription="2-10 lower-case letters or digits, starting with a letter",
        Description="Environment name; part of every resource name (medallion-<env>-...)",
    )
    specs = {"Environment": environment, **PARAMETERS}
    return {key: template.add_parameter(Parameter(key, **spec)) for key, spec in specs.items()}


def _conditions(template: Template, params: dict[str, Parameter]) -> None:
    template.add_condition(HAS_ALERT_EMAIL, Not(Equals(Ref(params["AlertEmail"]), "")))
    template.add_condition(HAS_SCHEDULE, Not(Equals(Ref(params["Schedule"]), "")))
    template.add_condition(HAS_BUDGET, Not(Equals(Ref(params["MonthlyBudget"]), "0")))
    if "DatabaseSecretArn" in params:
        add_database_conditions(template, params)
    if "OrderStreamEnabled" in params:
        add_stream_conditions(template, params)
        add_arrival_conditions(template, params)


def _interface() -> dict[str, Any]:
    """The console's parameter groups (``AWS::CloudFormation::Interface`` metadata)."""
    groups = [
        {"Label": {"default": label}, "Parameters": keys}
        for label, keys in PARAMETER_GROUPS.items()
    ]
    return {"AWS::CloudFormation::Interface": {"ParameterGroups": groups}}


def build_template(env: str, *, bootstrap: bool = False) -> Template:
    """The stack of one environment.

    Parameters
    ----------
    env : str
        The environment (``dev``, ``prod``...): the Environment parameter's default.
    bootstrap : bool
        Only the key, buckets and secret, with the same logical ids: what a first deploy creates
        so the scripts and the full template (too big to send inline) can be uploaded before the
        rest is created.

    Returns
    -------
    Template
        The troposphere template.
    """
    template = Template(
        Description=f"medallion {env}: bronze -> silver -> gold sales pipeline on Glue, "
        "Step Functions and Athena, with failure alerts by email"
    )
    template.set_version("2010-09-09")
    params = _parameters(template, env)
    _conditions(template, params)
    template.set_metadata(_interface())
    storage = add_storage(
        template,
        bronze_version_days=Ref(params["BronzeNoncurrentVersionDays"]),
        results_expiration_days=Ref(params["AthenaResultsExpirationDays"]),
        log_retention_days=Ref(params["LogRetentionDays"]),
    )
    if bootstrap:
        return _bootstrap_outputs(template, storage)
    pipeline = _add_pipeline(template, params, storage)
    analysts = _add_analysts_policy(template, pipeline)
    _add_outputs(template, pipeline, analysts)
    return template


def _add_pipeline(template: Template, params: dict[str, Parameter], storage: Storage) -> _Pipeline:
    """Catalog, jobs, query, alerts, the state machine, then what watches and starts it."""
    catalog = add_catalog(template, storage, Ref(params["DatabasePrefix"]))
    database = add_database(template, params)
    jobs = add_jobs(
        template,
        storage,
        catalog,
        JobSettings(
            worker_type=Ref(params["GlueWorkerType"]),
            max_workers=Ref(params["GlueMaxWorkers"]),
            timeout_minutes=Ref(params["GlueTimeoutMinutes"]),
        ),
        database,
    )
    add_database_policy(template, database, jobs.roles["bronze"])
    query = add_query(
        template, storage, catalog.database_names["gold"], Ref(params["AthenaBytesScannedCutoff"])
    )
    alerts = add_alerts(template, storage, Ref(params["AlertEmail"]), Ref(params["MonthlyBudget"]))
    orchestration = add_orchestration(
        template,
        storage=storage,
        catalog=catalog,
        jobs=jobs,
        query=query,
        topic=alerts.topic,
        log_retention_days=Ref(params["LogRetentionDays"]),
    )
    add_failed_runs_alarm(template, alerts.topic, orchestration.state_machine)
    add_schedule(template, orchestration.state_machine, Ref(params["Schedule"]))
    retention = Ref(params["LogRetentionDays"])
    stream = add_stream(template, storage, params, retention)
    add_arrival(
        template,
        storage,
        orchestration.state_machine,
        Ref(params["ArrivalMinMinutes"]),
        retention,
    )
    return _Pipeline(storage, catalog, jobs, query, alerts, orchestration, stream)


def _add_analysts_policy(template: Template, pipeline: _Pipeline) -> iam.ManagedPolicy:
    """The managed policy an account attaches to its analysts' roles or groups."""
    storage, catalog = pipeline.storage, pipeline.catalog
    return template.add_resource(
        iam.ManagedPolicy(
            "AnalystsPolicy",
            ManagedPolicyName=name("analysts"),
            Description="Query gold in the medallion workgroup; no raw, rejected or PII data",
            PolicyDocument=analysts_policy(
                lake_bucket_arn=GetAtt(storage.lake, "Arn"),
                results_bucket_arn=GetAtt(storage.results, "Arn"),
                key_arn=GetAtt(storage.key, "Arn"),
                workgroup_name=pipeline.query.workgroup_name,
                gold_database=catalog.database_names["gold"],
                denied_databases=[catalog.database_names[layer] for layer in ("bronze", "silver")],
                secret_arn=Ref(storage.pii_salt),
            ),
        )
    )


def _add_outputs(template: Template, pipeline: _Pipeline, analysts: iam.ManagedPolicy) -> None:
    """The outputs: what the CLI reads (REQUIRED_OUTPUTS) and what an operator looks up."""

    def output(key: str, value: object, description: str, condition: str | None = None) -> None:
        props: dict[str, Any] = {"Value": value, "Description": description}
        if condition:
            props["Condition"] = condition
        template.add_output(Output(key, **props))

    storage, catalog = pipeline.storage, pipeline.catalog
    state_machine = pipeline.orchestration.state_machine
    output("PipelineStateMachineArn", Ref(state_machine), "The pipeline to start")
    output("PipelineStateMachineName", GetAtt(state_machine, "Name"), "The pipeline's name")
    output("LakeBucketName", Ref(storage.lake), "The lake: landing/, bronze/, silver/, gold/...")
    output("ScriptsBucketName", Ref(storage.scripts), "Entry scripts, jobs.zip, contracts/, sql/")
    output("AthenaResultsBucketName", Ref(storage.results), "Athena query results")
    output("AccessLogsBucketName", Ref(storage.access_logs), "S3 server access logs")
    output("AlertTopicArn", Ref(pipeline.alerts.topic), "Failure alerts (email)")
    output("AthenaWorkGroupName", pipeline.query.workgroup_name, "The analysts' Athena workgroup")
    for layer in LAYERS:
        title = layer.capitalize()
        output(f"{title}DatabaseName", catalog.database_names[layer], f"The {layer} Glue database")
        output(f"{title}JobName", pipeline.jobs.names[layer], f"The {layer} Glue job")
        output(f"{title}CrawlerName", name(f"{layer}-crawler"), f"The {layer} crawler")
    output("PiiSaltSecretArn", Ref(storage.pii_salt), "The PII salt (Secrets Manager)")
    output("DataKeyArn", GetAtt(storage.key, "Arn"), "The KMS key of buckets, logs, topic, secret")
    output("AnalystsPolicyArn", Ref(analysts), "Attach to analysts' roles or groups")
    _add_optional_outputs(output, pipeline.stream)
    output(
        "AlertEmailSubscriptionArn",
        Ref("AlertEmailSubscription"),
        "The email subscription (pending until confirmed)",
        HAS_ALERT_EMAIL,
    )


def _add_optional_outputs(output: Any, stream: Stream) -> None:
    """The optional order stream's and runs-on-arrival's outputs, with their conditions."""
    output(
        "OrderStreamName",
        Ref(stream.delivery_stream),
        "Firehose delivery stream of order events (medallion stream --stream ...)",
        HAS_STREAM,
    )
    output(
        "OrderStreamApiUrl",
        Sub("https://${OrderStreamApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/v1"),
        "POST /put-record or /put-record-batch here, signed with SigV4 (service execute-api)",
        HAS_STREAM_API,
    )
    output(
        "ArrivalGateStateMachineArn",
        Ref("ArrivalGateStateMachine"),
        "Starts the pipeline when objects arrived under landing/",
        HAS_ARRIVAL,
    )
    output("ArrivalQueueUrl", Ref("ArrivalQueue"), "Arrivals not yet taken by a run", HAS_ARRIVAL)


def _bootstrap_outputs(template: Template, storage: Storage) -> Template:
    template.parameters = {
        k: v for k, v in template.parameters.items() if k in BOOTSTRAP_PARAMETERS
    }
    template.conditions = {}
    template.metadata = {}
    template.add_output(Output("LakeBucketName", Value=Ref(storage.lake)))
    template.add_output(Output("ScriptsBucketName", Value=Ref(storage.scripts)))
    template.add_output(Output("AthenaResultsBucketName", Value=Ref(storage.results)))
    template.add_output(Output("AccessLogsBucketName", Value=Ref(storage.access_logs)))
    return template


def render(env: str, fmt: str = "json", *, bootstrap: bool = False) -> str:
    """The template of an environment as text.

    Parameters
    ----------
    env : str
        The environment.
    fmt : str
        ``json`` or ``yaml``.
    bootstrap : bool
        The storage-only template of a first deploy (see :func:`build_template`).

    Returns
    -------
    str
        The template; JSON with sorted keys and a trailing newline, so it diffs well.
    """
    template = build_template(env, bootstrap=bootstrap)
    if fmt == "yaml":
        return str(template.to_yaml(clean_up=True))
    if fmt != "json":
        raise ValueError(f"unknown format {fmt!r}; expected json or yaml")
    return json.dumps(template.to_dict(), indent=2, sort_keys=True) + "\n"
