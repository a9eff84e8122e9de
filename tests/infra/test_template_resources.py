"""The template's resources, checked where moto's CloudFormation cannot create them.

moto 5.2.5 skips Glue (databases, crawlers, jobs, security configuration), Athena, SNS
subscriptions and topic policies, bucket policies, Secrets Manager, CloudWatch alarms and Budgets,
so their properties are asserted here on the rendered template.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.stack import REQUIRED_OUTPUTS, build_template, render
from jobs.common import records
from medallion.spec.definition import render_definition
from medallion.spec.views import named_queries, view_statements

TEMPLATE = json.loads(render("dev"))
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
LAYERS = ("bronze", "silver", "gold")


def props(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]


def of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in RESOURCES.items() if v["Type"] == kind}


def join(value: Any) -> str:
    """``Fn::Join`` of literals and Refs as text (``${Ref}``)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(join(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return "${" + value["Ref"] + "}"
    if isinstance(value, dict) and "Fn::Sub" in value:
        return value["Fn::Sub"]
    return str(value)


@pytest.mark.parametrize("layer", LAYERS)
def test_glue_job(layer: str) -> None:
    job = props(f"{layer.capitalize()}Job")
    assert job["GlueVersion"] == "5.1"
    assert job["Command"]["Name"] == "glueetl"
    assert join(job["Command"]["ScriptLocation"]) == f"s3://${{ScriptsBucket}}/jobs/{layer}/job.py"
    assert job["WorkerType"] == {"Ref": "GlueWorkerType"}
    assert job["NumberOfWorkers"] == {"Ref": "GlueMaxWorkers"}
    assert job["Timeout"] == {"Ref": "GlueTimeoutMinutes"}
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    assert job["SecurityConfiguration"] == {"Ref": "GlueSecurityConfiguration"}
    args = job["DefaultArguments"]
    assert join(args["--extra-py-files"]) == "s3://${ScriptsBucket}/jobs.zip"
    for flag in ("--enable-auto-scaling", "--enable-metrics", "--enable-continuous-cloudwatch-log"):
        assert args[flag] == "true"
    assert join(args["--lake_root"]) == "s3://${LakeBucket}"
    assert join(args["--contracts_root"]) == "s3://${ScriptsBucket}/contracts/"
    assert ("--pii_salt_secret" in args) == (layer == "silver")
    if layer == "silver":
        assert args["--pii_salt_secret"] == {"Ref": "PiiSaltSecret"}


def test_glue_defaults_are_the_costed_ones() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["GlueWorkerType"]["Default"] == "G.1X"
    assert parameters["GlueMaxWorkers"]["Default"] == 10


@pytest.mark.parametrize("layer", LAYERS)
def test_database_and_crawler_per_layer(layer: str) -> None:
    database = props(f"{layer.capitalize()}Database")
    assert join(database["DatabaseInput"]["Name"]) == f"${{DatabasePrefix}}{layer}"
    crawler = props(f"{layer.capitalize()}Crawler")
    assert crawler["DatabaseName"] == {"Ref": f"{layer.capitalize()}Database"}
    (target,) = crawler["Targets"]["S3Targets"]
    assert join(target["Path"]) == f"s3://${{LakeBucket}}/{layer}/"
    # Never delete: a column or table missing from one crawl must not vanish for readers.
    assert crawler["SchemaChangePolicy"] == {
        "DeleteBehavior": "LOG",
        "UpdateBehavior": "UPDATE_IN_DATABASE",
    }
    configuration = json.loads(crawler["Configuration"])
    assert configuration["CrawlerOutput"]["Tables"]["AddOrUpdateBehavior"] == "MergeNewColumns"
    assert crawler["CrawlerSecurityConfiguration"] == {"Ref": "GlueSecurityConfiguration"}


def test_quality_records_are_declared_tables_of_the_gold_database() -> None:
    for logical_id, table, folder in (
        ("QualityResultsTable", "quality_results", "quality/results/"),
        ("QualityRunsTable", "quality_runs", "quality/runs/"),
    ):
        table_props = props(logical_id)
        assert table_props["DatabaseName"] == {"Ref": "GoldDatabase"}
        table_input = table_props["TableInput"]
        assert table_input["Name"] == table
        assert "PartitionKeys" not in table_input  # the records carry dataset and run_id
        storage = table_input["StorageDescriptor"]
        assert join(storage["Location"]) == f"s3://${{LakeBucket}}/{folder}"
        assert storage["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        columns = [(c["Name"], c["Type"]) for c in storage["Columns"]]
        assert columns == records.glue_columns(table)  # the records' one definition
    runs = {
        c["Name"] for c in props("QualityRunsTable")["TableInput"]["StorageDescriptor"]["Columns"]
    }
    assert {"published", "warned_rules"} <= runs


def test_glue_security_configuration_encrypts_everything_with_the_key() -> None:
    encryption = props("GlueSecurityConfiguration")["EncryptionConfiguration"]
    assert encryption["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"


def test_state_machine_definition_is_the_rendered_asl_with_every_placeholder_provided() -> None:
    # Rendered here, not at import: statemachine/ and sql/ may change while the suite runs.
    machine = json.loads(render("dev"))["Resources"]["PipelineStateMachine"]["Properties"]
    text, mapping = machine["DefinitionString"]["Fn::Sub"]
    tokens = set(re.findall(r"\$\{([^}!]+)\}", text))
    assert tokens <= set(mapping) | set(TEMPLATE["Parameters"])
    assert {"BronzeJobName", "AlertTopicArn", "LakeRoot", "AthenaWorkGroup"} <= tokens
    assert mapping["BronzeJobName"] == {"Fn::Sub": "medallion-${Environment}-bronze"}
    assert mapping["AlertTopicArn"] == {"Ref": "AlertTopic"}
    assert mapping["PiiSaltSecretId"] == {"Ref": "PiiSaltSecret"}
    # The same text medallion.spec.definition gives for these placeholders, compacted.
    same = render_definition(
        {k: f"${{{k}}}" for k in mapping}
        | {
            "Environment": "${Environment}",
            "CrawlerPollSeconds": "30",
            "CrawlerMaxPolls": "120",
            "ExecutionTimeoutSeconds": "43200",
        },
        view_statements(database="${GoldDatabase}"),
    )
    assert json.loads(text) == json.loads(same)


def test_state_machine_logs_and_traces() -> None:
    machine = props("PipelineStateMachine")
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    destination = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert destination == {"Fn::GetAtt": ["PipelineLogGroup", "Arn"]}
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert props("PipelineLogGroup")["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}


def test_alert_topic_is_encrypted_with_an_email_subscription_and_a_policy() -> None:
    assert props("AlertTopic")["KmsMasterKeyId"] == {"Ref": "DataKey"}
    subscription = RESOURCES["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert subscription["Properties"] == {
        "Endpoint": {"Ref": "AlertEmail"},
        "Protocol": "email",
        "TopicArn": {"Ref": "AlertTopic"},
    }
    policy = props("AlertTopicPolicy")
    assert policy["Topics"] == [{"Ref": "AlertTopic"}]
    assert {s["Sid"] for s in policy["PolicyDocument"]["Statement"]} == {
        "AlarmsAndBudgetsPublish",
        "DenyInsecureTransport",
    }


def test_alarm_on_failed_or_timed_out_executions_notifies_the_topic() -> None:
    alarm = props("FailedRunsAlarm")
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut"}
    for metric in alarm["Metrics"]:
        if "MetricStat" in metric:
            (dimension,) = metric["MetricStat"]["Metric"]["Dimensions"]
            assert dimension["Value"] == {"Ref": "PipelineStateMachine"}
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    assert alarm["Threshold"] == 1 and alarm["TreatMissingData"] == "notBreaching"


def test_optional_budget_and_schedule_are_conditional() -> None:
    budget = RESOURCES["CostBudget"]
    assert budget["Condition"] == "HasMonthlyBudget"
    subscribers = [
        s for n in budget["Properties"]["NotificationsWithSubscribers"] for s in n["Subscribers"]
    ]
    assert subscribers and all(s["Address"] == {"Ref": "AlertTopic"} for s in subscribers)
    assert RESOURCES["PipelineSchedule"]["Condition"] == "HasSchedule"
    assert RESOURCES["ScheduleRole"]["Condition"] == "HasSchedule"
    target = props("PipelineSchedule")["Targets"][0]
    assert target["Arn"] == {"Ref": "PipelineStateMachine"}


def test_athena_workgroup_is_enforced_encrypted_and_capped() -> None:
    workgroup = props("AthenaWorkGroup")
    configuration = workgroup["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == {"Ref": "AthenaBytesScannedCutoff"}
    result = configuration["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert join(result["OutputLocation"]) == "s3://${AthenaResultsBucket}/results/"
    assert workgroup["RecursiveDeleteOption"] is True  # or deleting the stack fails


def test_named_queries_come_from_the_analysts_sql() -> None:
    resources = json.loads(render("dev"))["Resources"].values()
    queries = {i: r for i, r in enumerate(resources) if r["Type"] == "AWS::Athena::NamedQuery"}
    assert len(queries) == len(named_queries())
    texts = {q["Properties"]["QueryString"] for q in queries.values()}
    assert texts == {q.sql for q in named_queries()}
    for query in queries.values():
        assert query["Properties"]["WorkGroup"] == {"Ref": "AthenaWorkGroup"}


@pytest.mark.parametrize(
    "bucket", ["LakeBucket", "ScriptsBucket", "AthenaResultsBucket", "AccessLogsBucket"]
)
def test_bucket_is_encrypted_versioned_private_and_tls_only(bucket: str) -> None:
    bucket_props = props(bucket)
    (rule,) = bucket_props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    algorithm = rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
    # Access logs can only be delivered to SSE-S3; everything else uses the stack's key.
    assert algorithm == ("AES256" if bucket == "AccessLogsBucket" else "aws:kms")
    assert bucket_props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket_props["PublicAccessBlockConfiguration"].values()) == {True}
    if bucket != "AccessLogsBucket":
        assert bucket_props["LoggingConfiguration"]["DestinationBucketName"] == {
            "Ref": "AccessLogsBucket"
        }
    policy = props(f"{bucket}Policy")["PolicyDocument"]["Statement"]
    deny = next(s for s in policy if s["Sid"] == "DenyInsecureTransport")
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_expires_athena_results_and_old_bronze_versions() -> None:
    lake = {r["Id"]: r for r in props("LakeBucket")["LifecycleConfiguration"]["Rules"]}
    bronze = lake["ExpireOldBronzeVersions"]
    assert bronze["Prefix"] == "bronze/"
    assert bronze["NoncurrentVersionExpiration"]["NoncurrentDays"] == {
        "Ref": "BronzeNoncurrentVersionDays"
    }
    results = {r["Id"]: r for r in props("AthenaResultsBucket")["LifecycleConfiguration"]["Rules"]}
    assert results["ExpireQueryResults"]["ExpirationInDays"] == {
        "Ref": "AthenaResultsExpirationDays"
    }


def test_key_rotates() -> None:
    assert props("DataKey")["EnableKeyRotation"] is True


def test_parameters_have_descriptions_and_defaults() -> None:
    parameters = TEMPLATE["Parameters"]
    for name in (
        "Environment",
        "AlertEmail",
        "GlueWorkerType",
        "GlueMaxWorkers",
        "Schedule",
        "MonthlyBudget",
    ):
        assert name in parameters
    for name, parameter in parameters.items():
        assert parameter.get("Description"), name
        assert "Default" in parameter, name
    assert parameters["Environment"]["Default"] == "dev"
    assert json.loads(render("prod"))["Parameters"]["Environment"]["Default"] == "prod"


def test_outputs_are_named_after_their_resource_and_attribute() -> None:
    outputs = TEMPLATE["Outputs"]
    assert set(REQUIRED_OUTPUTS) <= set(outputs)
    for key, output in outputs.items():
        assert output.get("Description"), key
        value = output["Value"]
        if "Ref" in value or "Fn::GetAtt" in value:
            logical_id = value.get("Ref") or value["Fn::GetAtt"][0]
            assert key.startswith(logical_id), key
        else:
            assert any(key.startswith(logical_id) for logical_id in RESOURCES), key


def test_bootstrap_creates_storage_exactly_as_the_full_stack_does() -> None:
    """The first deploy's storage part must not be replaced when the full template follows."""
    bootstrap = json.loads(render("dev", bootstrap=True))
    assert set(bootstrap["Resources"]) == {
        "DataKey",
        "DataKeyAlias",
        "LakeBucket",
        "ScriptsBucket",
        "AthenaResultsBucket",
        "AccessLogsBucket",
        "LakeBucketPolicy",
        "ScriptsBucketPolicy",
        "AthenaResultsBucketPolicy",
        "AccessLogsBucketPolicy",
        "PiiSaltSecret",
    }
    full = json.loads(json.dumps(RESOURCES))
    # Runs on arrival turns on the lake's EventBridge notifications, which changes the bucket in
    # place (no replacement); without that option the property is not there at all.
    notifications = full["LakeBucket"]["Properties"].pop("NotificationConfiguration")
    assert notifications["Fn::If"][0] == "HasRunOnArrival"
    assert notifications["Fn::If"][2] == {"Ref": "AWS::NoValue"}
    for logical_id, resource in bootstrap["Resources"].items():
        assert resource == full[logical_id], logical_id
    for name, parameter in bootstrap["Parameters"].items():
        assert parameter == TEMPLATE["Parameters"][name]
    assert {"LakeBucketName", "ScriptsBucketName"} <= set(bootstrap["Outputs"])


def test_template_is_deterministic() -> None:
    assert build_template("dev").to_json() == build_template("dev").to_json()
