"""medallion start, status, history, rerun and backfill against Step Functions (moto)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from medallion.aws import stepfunctions as sfn_ops
from medallion.cli import app

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/medallion-dev-pipeline"
PASS = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
FAIL = {
    "StartAt": "Gold job",
    "States": {"Gold job": {"Type": "Fail", "Error": "Glue job run FAILED", "Cause": "boom"}},
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("MEDALLION_STATE_MACHINE_ARN", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machines = {
            name: sfn.create_state_machine(
                name=f"medallion-dev-{name}", definition=json.dumps(body), roleArn=ROLE
            )["stateMachineArn"]
            for name, body in (("pass", PASS), ("fail", FAIL))
        }
        stack = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"PipelineStateMachineArn": {"Value": machines["pass"]}},
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="medallion-dev", TemplateBody=json.dumps(stack)
        )
        yield machines


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--region", REGION])


def wait_for(arn: str) -> dict[str, Any]:
    for _ in range(100):
        described = sfn_ops.describe(arn, sfn=boto3.client("stepfunctions", region_name=REGION))
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{arn} still running")


def test_start_finds_the_state_machine_in_the_stack_and_passes_the_run_options(aws):
    result = cli("start", "--env", "dev", "--run-id", "r-1", "--datasets", "order_lines,products")

    assert result.exit_code == 0, result.output
    arn = result.stdout.strip()
    assert arn == aws["pass"].replace(":stateMachine:", ":execution:") + ":r-1"
    described = wait_for(arn)
    assert json.loads(described["input"]) == {
        "run_id": "r-1",
        "datasets": "order_lines,products",
        "full_refresh": "false",
    }


def test_start_wait_follows_the_run_and_exits_with_its_outcome(aws):
    ok = cli("start", "--wait", "--observation-end", "2011-12-09")
    failed = cli("start", "--wait", "--state-machine-arn", aws["fail"], "--full-refresh")

    assert ok.exit_code == 0, ok.output
    assert "execution SUCCEEDED" in ok.stdout and "Pipeline run" in ok.stdout
    assert failed.exit_code == 1
    assert "FAILED" in failed.stdout and "boom" in failed.stdout


def test_start_without_a_deployed_stack_says_so(aws):
    result = cli("start", "--env", "prod")

    assert result.exit_code == 3
    assert "medallion-prod does not exist" in result.output


def test_start_rejects_a_bad_date(aws):
    result = cli("start", "--observation-end", "09/12/2011")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_status_and_history_show_recent_executions(aws):
    first = cli("start", "--run-id", "first").stdout.strip()
    cli("start", "--run-id", "second")
    wait_for(first)

    status = cli("status", "--limit", "5")
    listed = cli("history", "--json")
    one = cli("status", "first", "--json")
    states = cli("history", "first")

    assert status.exit_code == 0 and "first" in status.stdout and "second" in status.stdout
    assert {e["name"] for e in json.loads(listed.stdout)} == {"first", "second"}
    [described] = json.loads(one.stdout)
    assert described["executionArn"] == first and described["status"] == "SUCCEEDED"
    assert states.exit_code == 0 and "Done" in states.stdout


def test_history_json_of_one_execution_is_its_event_list(aws):
    arn = cli("start", "--run-id", "h-1", "--state-machine-arn", aws["fail"]).stdout.strip()
    wait_for(arn)

    result = cli("history", "h-1", "--state-machine-arn", aws["fail"], "--json")

    events = json.loads(result.stdout)
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionFailed"


def test_rerun_of_a_failed_execution_starts_one_with_the_same_input_when_no_redrive(aws):
    arn = cli(
        "start", "--run-id", "broken", "--datasets", "reviews", "--state-machine-arn", aws["fail"]
    ).stdout.strip()
    wait_for(arn)

    result = cli("rerun", "broken", "--state-machine-arn", aws["fail"])

    assert result.exit_code == 0, result.output
    verb, new_arn = result.stdout.split()
    assert verb == "started" and new_arn != arn and ":broken-rerun-" in new_arn
    assert json.loads(wait_for(new_arn)["input"]) == json.loads(wait_for(arn)["input"])


def test_rerun_redrives_when_step_functions_allows_it():
    class Redrivable:
        def __init__(self) -> None:
            self.redriven: list[str] = []

        def describe_execution(self, executionArn: str) -> dict[str, Any]:
            return {"status": "FAILED", "name": "x", "stateMachineArn": "m", "input": "{}"}

        def redrive_execution(self, executionArn: str) -> dict[str, Any]:
            self.redriven.append(executionArn)
            return {}

    fake = Redrivable()
    assert sfn_ops.rerun("arn:aws:states:us-east-1:123456789012:execution:m:x", sfn=fake) == (
        "arn:aws:states:us-east-1:123456789012:execution:m:x"
    )
    assert fake.redriven == ["arn:aws:states:us-east-1:123456789012:execution:m:x"]


def test_backfill_is_one_full_refresh_execution_as_of_the_last_day(aws):
    result = cli(
        "backfill", "--from", "2011-12-01", "--to", "2011-12-09", "--datasets", "order_lines"
    )

    assert result.exit_code == 0, result.output
    described = wait_for(result.stdout.strip())
    assert json.loads(described["input"]) == {
        "run_id": "backfill-2011-12-01-to-2011-12-09",
        "datasets": "order_lines",
        "observation_end": "2011-12-09",
        "full_refresh": "true",
    }
    assert described["name"].startswith("backfill-2011-12-01-to-2011-12-09-")
    listed = boto3.client("stepfunctions", region_name=REGION).list_executions(
        stateMachineArn=aws["pass"]
    )["executions"]
    assert len(listed) == 1


def test_backfill_refuses_a_range_that_ends_before_it_starts(aws):
    result = cli("backfill", "--from", "2011-12-09", "--to", "2011-12-01")
    assert result.exit_code == 2 and "before --from" in result.output
