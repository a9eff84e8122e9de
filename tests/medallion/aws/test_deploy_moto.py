"""Deploy, start and destroy end to end against a moto server on 127.0.0.1.

moto's CloudFormation creates the S3 buckets, KMS key, IAM roles and policy, SNS topic, log group
and state machine of the stack. It skips (with a warning) Glue, Athena, SNS subscriptions, bucket
and topic policies, Secrets Manager, CloudWatch alarms and Budgets: those are checked in the
rendered template by test_template_resources.py instead.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from moto.cloudformation.models import CloudFormationBackend
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from infra.stack import REQUIRED_OUTPUTS
from medallion.aws import DeployError
from medallion.aws.cloudformation import Stack, describe_stack
from medallion.aws.stack import guard, stack_outputs
from medallion.cli import app

# moto warns once per resource type it skips; the module docstring lists them.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")

REGION = "us-east-1"
MOTO_VERSION = "5.2.5"


def _refresh_outputs_after_change_set(original: Any) -> Any:
    """moto 5.2.5 executes a change set without re-evaluating the stack's Outputs."""

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original(self, change_set_name, stack_name)
        change_set = self.change_sets.get(change_set_name) or next(
            c for c in self.change_sets.values() if c.change_set_name == change_set_name
        )
        stack = self.stacks[change_set.stack_id]
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    return execute_change_set


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    assert moto.__version__ == MOTO_VERSION, "re-check the change-set outputs patch for this moto"
    original = CloudFormationBackend.execute_change_set
    CloudFormationBackend.execute_change_set = _refresh_outputs_after_change_set(original)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        CloudFormationBackend.execute_change_set = original


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("MEDALLION_POLL_SECONDS", "0.05")


def _aws(service: str, endpoint: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint)


def _cli(*args: str, endpoint: str, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(
        app, [*args, "--region", REGION, "--endpoint-url", endpoint], input=stdin
    )
    return result


def test_moto_still_needs_the_change_set_outputs_patch() -> None:
    """Fails once moto evaluates Outputs on change-set execution: then drop the patch above."""
    with moto.mock_aws():
        cfn = boto3.client("cloudformation", region_name=REGION)
        body = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
        }
        cfn.create_change_set(
            StackName="probe",
            ChangeSetName="probe",
            ChangeSetType="CREATE",
            TemplateBody=json.dumps(body),
        )
        cfn.execute_change_set(ChangeSetName="probe", StackName="probe")
        assert "Outputs" not in cfn.describe_stacks(StackName="probe")["Stacks"][0]


def test_deploy_needs_an_alert_email(endpoint: str) -> None:
    result = _cli("deploy", "--env", "mail", "--yes", endpoint=endpoint)
    assert result.exit_code == 2
    assert "alert email is required" in result.output
    assert describe_stack("medallion-mail", region=REGION, endpoint_url=endpoint) is None


def test_deploy_refuses_an_environment_name_buckets_cannot_carry(endpoint: str) -> None:
    result = _cli(
        "deploy", "--env", "Dev_1", "--alert-email", "ops@example.com", "--yes", endpoint=endpoint
    )
    assert result.exit_code == 2
    assert "lower-case letters or digits" in result.output


def test_deploy_without_credentials_says_so(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = _cli(
        "deploy", "--env", "nocreds", "--alert-email", "ops@example.com", "--yes", endpoint=endpoint
    )
    assert result.exit_code == 3
    assert "No AWS credentials found" in result.output


def test_a_failed_stack_is_not_deployed_over() -> None:
    broken = Stack("medallion-dev", "id", "ROLLBACK_COMPLETE", "Resource creation cancelled")
    with pytest.raises(DeployError, match=r"ROLLBACK_COMPLETE.*medallion destroy --env dev"):
        guard(broken, "dev")
    stuck = Stack("medallion-dev", "id", "UPDATE_ROLLBACK_FAILED", "")
    with pytest.raises(DeployError, match="continue-update-rollback"):
        guard(stuck, "dev")
    with pytest.raises(DeployError, match="busy"):
        guard(Stack("medallion-dev", "id", "UPDATE_IN_PROGRESS", ""), "dev")


def test_deploy_start_destroy(endpoint: str) -> None:
    # Declining the first change set leaves nothing behind.
    declined = _cli(
        "deploy", "--env", "dev", "--alert-email", "ops@example.com", endpoint=endpoint, stdin="n\n"
    )
    assert declined.exit_code == 1, declined.output
    assert "change set (CREATE)" in declined.output and "cancelled" in declined.output
    assert describe_stack("medallion-dev", region=REGION, endpoint_url=endpoint) is None

    deployed = _cli(
        "deploy", "--env", "dev", "--alert-email", "ops@example.com", "--yes", endpoint=endpoint
    )
    assert deployed.exit_code == 0, deployed.output
    assert "change set (CREATE)" in deployed.output  # the storage part of a first deploy
    assert "change set (UPDATE)" in deployed.output  # then the rest, from the scripts bucket
    assert "PipelineStateMachine" in deployed.output

    outputs = stack_outputs("dev", region=REGION, endpoint_url=endpoint)
    assert set(REQUIRED_OUTPUTS) <= set(outputs)
    _check_deployed_resources(outputs, endpoint)

    typo = _cli("deploy", "--env", "dev", "-p", "GlueMaxWorker=4", "--yes", endpoint=endpoint)
    assert typo.exit_code == 2
    assert "unknown stack parameter(s) GlueMaxWorker" in " ".join(typo.output.split())

    again = _cli("deploy", "--env", "dev", "--yes", endpoint=endpoint)
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output

    _start_a_run(outputs["PipelineStateMachineArn"], endpoint)

    lake = outputs["LakeBucketName"]
    s3 = _aws("s3", endpoint)
    s3.put_bucket_versioning(Bucket=lake, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=lake, Key="bronze/orders/part-0.parquet", Body=body)
    s3.delete_object(Bucket=lake, Key="bronze/orders/part-0.parquet")  # a delete marker

    kept = _cli("destroy", "--env", "dev", endpoint=endpoint, stdin="n\n")
    assert kept.exit_code == 1 and "nothing was deleted" in kept.output
    assert s3.list_object_versions(Bucket=lake).get("Versions")

    destroyed = _cli("destroy", "--env", "dev", "--yes", endpoint=endpoint)
    assert destroyed.exit_code == 0, destroyed.output
    assert f"emptied s3://{lake}/: 3 object versions and delete markers" in " ".join(
        destroyed.output.split()
    )
    assert lake not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    stack = describe_stack("medallion-dev", region=REGION, endpoint_url=endpoint)
    assert stack is None or stack.status == "DELETE_COMPLETE"

    nothing = _cli("destroy", "--env", "dev", "--yes", endpoint=endpoint)
    assert nothing.exit_code == 0 and "nothing to destroy" in nothing.output


def _check_deployed_resources(outputs: dict[str, str], endpoint: str) -> None:
    s3 = _aws("s3", endpoint)
    scripts = outputs["ScriptsBucketName"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=scripts)["Contents"]}
    for layer in ("bronze", "silver", "gold"):
        assert f"jobs/{layer}/job.py" in keys
    assert "jobs.zip" in keys
    assert "contracts/order_lines.yaml" in keys
    assert any(k.startswith("sql/") and k.endswith(".sql") for k in keys)
    assert any(k.startswith("cloudformation/medallion-dev-") for k in keys)
    archive = s3.get_object(Bucket=scripts, Key="jobs.zip")["Body"].read()
    names = zipfile.ZipFile(io.BytesIO(archive)).namelist()
    assert "jobs/__init__.py" in names and "jobs/common/args.py" in names
    assert not any("__pycache__" in n for n in names)

    encryption = s3.get_bucket_encryption(Bucket=outputs["LakeBucketName"])
    rule = encryption["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"

    sfn = _aws("stepfunctions", endpoint)
    machine = sfn.describe_state_machine(stateMachineArn=outputs["PipelineStateMachineArn"])
    definition = json.loads(machine["definition"])
    bronze = definition["States"]["Bronze job"]["Parameters"]
    assert bronze["JobName"] == "medallion-dev-bronze"
    assert bronze["Arguments"]["--lake_root"] == f"s3://{outputs['LakeBucketName']}"
    assert (
        definition["States"]["Notify failure"]["Parameters"]["TopicArn"] == outputs["AlertTopicArn"]
    )
    assert machine["roleArn"].startswith("arn:aws:iam::123456789012:role/")

    topics = {t["TopicArn"] for t in _aws("sns", endpoint).list_topics()["Topics"]}
    assert outputs["AlertTopicArn"] in topics
    attributes = _aws("sns", endpoint).get_topic_attributes(TopicArn=outputs["AlertTopicArn"])
    assert attributes["Attributes"].get("KmsMasterKeyId")

    iam = _aws("iam", endpoint)
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert sum("JobRole" in r for r in roles) == 3 and any("PipelineRole" in r for r in roles)
    policies = {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    assert "medallion-dev-analysts" in policies


def _start_a_run(state_machine_arn: str, endpoint: str) -> None:
    """Start an execution with ``medallion start`` (it reads the stack's outputs), or with boto3's
    ``start_execution`` like ``aws stepfunctions start-execution`` when that command is absent.

    moto does not run the Glue jobs behind it, so only the start is asserted here; the local
    engine's runs are the orchestration tests' business.
    """
    sfn = _aws("stepfunctions", endpoint)
    commands = {c.name for c in app.registered_commands}
    if "start" in commands:
        result = _cli(
            "start",
            "--env",
            "dev",
            "--run-id",
            "infra-smoke",
            "--datasets",
            "order_lines",
            endpoint=endpoint,
        )
        assert result.exit_code == 0, result.output
        execution_arn = result.stdout.strip().splitlines()[-1]
    else:
        execution_arn = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name="infra-smoke",
            input=json.dumps({"run_id": "infra-smoke", "datasets": "order_lines"}),
        )["executionArn"]
    execution = sfn.describe_execution(executionArn=execution_arn)
    assert execution["stateMachineArn"] == state_machine_arn
    assert execution["name"] == "infra-smoke"
    assert json.loads(execution["input"])["datasets"] == "order_lines"
    assert execution["status"] in {"RUNNING", "SUCCEEDED", "FAILED"}
