"""Runs on arrival: the stack's rule, queue and gate definition, executed on moto.

The arrival gate's definition (from the rendered template) runs on moto's Step Functions engine
against moto's S3, EventBridge and SQS: objects written to the lake reach the queue through the
template's own event pattern; a stand-in pipeline stays RUNNING until the test releases it.

moto 5.2.5 passes an ``aws-sdk:sfn:*`` Task's parameters to botocore as written
(``StateMachineArn``) although the Step Functions API names them in camelCase
(``stateMachineArn``), and hands back camelCase responses; AWS converts both ways
(https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html). The
``sfn_casing`` patch below does that conversion for Step Functions calls only, with moto's own
helpers; ``test_moto_needs_the_sfn_casing_patch`` fails once moto does it itself.

moto 5.2.5's ``Queue.delete_message`` rebuilds the queue's message list without a lock, so two
deletes at once can each write back a list that still holds the other's message: it comes back
after its visibility timeout, as if never deleted. The gate's Map deletes up to ten messages at
once (moto runs an inline Map's iterations in threads), so the arrival tests saw a message left
over about every other run. SQS deletes each message for good
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteMessage.html):
``sqs_atomic_deletes`` makes moto's delete hold the queue's own lock, and
``test_moto_needs_atomic_sqs_deletes`` fails once moto no longer loses deletes without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from moto import mock_aws
from moto.sqs.models import Queue, sqs_backends
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)

from infra.arrival import gate_definition
from infra.stack import render
from medallion.aws.stackmodel import StackModel
from medallion.local.jobrunner import REPO_ROOT

REGION = "eu-west-1"  # the stack model's region and account: the ARNs it resolves are moto's
ARRIVAL = {"RunOnArrival": "true", "ArrivalMinMinutes": "5"}
ACCOUNT = "123456789012"  # moto's default account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/medallion-dev-test"


@contextmanager
def sfn_casing() -> Iterator[None]:
    """Convert an ASL Task's Step Functions parameters and response the way AWS does."""
    session = botocore.session.get_session()
    originals = (StateTaskService._normalise_parameters, StateTaskService._normalise_response)

    def operation(task: Any, service: str | None, action: str | None) -> Any:
        service = service or task._get_boto_service_name()
        if service != "stepfunctions":
            return None
        action = action or task._get_boto_service_action()
        model = session.get_service_model(service)
        names = [n for n in model.operation_names if xform_name(n) == action]
        return model.operation_model(names[0]) if names else None

    # moto's own signatures: callers pass these by keyword
    def parameters(
        task: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        originals[0](task, parameters, boto_service_name, service_action_name)
        found = operation(task, boto_service_name, service_action_name)
        if found is not None:
            task._to_boto_request(parameters, found.input_shape)

    def response(
        task: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        originals[1](task, response, boto_service_name, service_action_name)
        found = operation(task, boto_service_name, service_action_name)
        if found is not None:
            task._from_boto_response(response, found.output_shape)

    StateTaskService._normalise_parameters = parameters  # type: ignore[method-assign,assignment]
    StateTaskService._normalise_response = response  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        StateTaskService._normalise_parameters = originals[0]  # type: ignore[method-assign]
        StateTaskService._normalise_response = originals[1]  # type: ignore[method-assign]


@contextmanager
def sqs_atomic_deletes() -> Iterator[None]:
    """Delete an SQS message under the queue's own lock, as one step, the way SQS does."""
    original = Queue.delete_message

    def delete_message(self: Queue, receipt_handle: str) -> None:
        with self._messages_lock:
            original(self, receipt_handle)

    Queue.delete_message = delete_message  # type: ignore[method-assign]
    try:
        yield
    finally:
        Queue.delete_message = original  # type: ignore[method-assign]


@pytest.mark.parametrize("patched", [False, True], ids=["moto", "patched"])
def test_moto_needs_atomic_sqs_deletes(patched: bool) -> None:
    """300 messages received, then deleted by ten threads switching as often as Python can:
    moto alone keeps some of them (about a third to two thirds, seen here), patched none."""
    switching = sys.getswitchinterval()
    with mock_aws(), sqs_atomic_deletes() if patched else _nothing():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="deletes")["QueueUrl"]
        for batch in range(30):
            entries = [{"Id": str(i), "MessageBody": f"{batch}-{i}"} for i in range(10)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        handles: list[str] = []
        while received := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300
        ).get("Messages", []):
            handles += [m["ReceiptHandle"] for m in received]
        assert len(handles) == 300
        queue = sqs_backends[ACCOUNT][REGION].queues["deletes"]
        sys.setswitchinterval(1e-6)
        try:
            with ThreadPoolExecutor(10) as pool:
                list(pool.map(queue.delete_message, handles))
        finally:
            sys.setswitchinterval(switching)
        left = len(queue._messages)
    assert (left == 0) is patched, left


def finished(sfn: Any, arn: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.05)


LIST_RUNNING = {
    "StartAt": "List",
    "States": {
        "List": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sfn:listExecutions",
            "Parameters": {"StateMachineArn.$": "$.arn", "StatusFilter": "RUNNING"},
            # the names only: the start dates are timestamps the output could not hold
            "ResultSelector": {"names.$": "$.Executions[*].Name"},
            "End": True,
        }
    },
}


@pytest.mark.parametrize("patched", [False, True], ids=["moto", "patched"])
def test_moto_needs_the_sfn_casing_patch(patched: bool) -> None:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="lister", definition=json.dumps(LIST_RUNNING), roleArn=ROLE
        )["stateMachineArn"]
        with sfn_casing() if patched else _nothing():
            arn = sfn.start_execution(
                stateMachineArn=machine, name="list", input=json.dumps({"arn": machine})
            )["executionArn"]
            done = finished(sfn, arn)
    if patched:
        assert done["status"] == "SUCCEEDED", done
        # the response in AWS's casing, and the lister itself RUNNING while it listed
        assert json.loads(done["output"])["names"] == ["list"]
    else:
        assert done["status"] == "FAILED" and "StateMachineArn" in done.get("cause", "")


def test_asl_validator_accepts_the_gate_and_would_refuse_a_broken_one(tmp_path: Path) -> None:
    validator = REPO_ROOT / "node_modules" / ".bin" / "asl-validator"
    good = json.loads(gate_definition())
    broken = json.loads(gate_definition())
    broken["States"]["Start the pipeline"]["Next"] = "No such state"
    for definition, valid in ((good, True), (broken, False)):
        path = tmp_path / "gate.json"
        path.write_text(json.dumps(definition))
        done = subprocess.run(
            [str(validator), "--json-path", str(path)], capture_output=True, text=True, check=False
        )
        assert (done.returncode == 0) is valid, done.stdout + done.stderr


@contextmanager
def _nothing() -> Iterator[None]:
    yield


class Lake:
    """moto's lake bucket, arrivals rule and queue, the stand-in pipeline and the gate, all
    named and wired as the rendered stack (runs on arrival on) names and wires them."""

    def __init__(self) -> None:
        model = StackModel(json.loads(render("dev")), "medallion-dev", parameters=ARRIVAL)
        assert model.condition("HasRunOnArrival")
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        events = boto3.client("events", region_name=REGION)
        self.bucket = model.physical_name("LakeBucket")
        self.s3.create_bucket(
            Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        notifications = model.properties("LakeBucket")["NotificationConfiguration"]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket,
            NotificationConfiguration={"EventBridgeConfiguration": {}}
            if notifications["EventBridgeConfiguration"]["EventBridgeEnabled"]
            else {},
        )
        self.queue = self.sqs.create_queue(QueueName=model.physical_name("ArrivalQueue"))[
            "QueueUrl"
        ]
        assert self.queue == model.ref("ArrivalQueue")
        rule = model.properties("ArrivalRule")
        events.put_rule(Name=rule["Name"], EventPattern=json.dumps(rule["EventPattern"]))
        events.put_targets(
            Rule=rule["Name"], Targets=[{"Id": "arrivals", "Arn": model.arn("ArrivalQueue")}]
        )
        self.control = self.sqs.create_queue(QueueName="pipeline-control")["QueueUrl"]
        self.pipeline = self.sfn.create_state_machine(
            name=model.physical_name("PipelineStateMachine"),
            definition=json.dumps(self._stand_in()),
            roleArn=ROLE,
        )["stateMachineArn"]
        gate = model.properties("ArrivalGateStateMachine")
        definition = gate["DefinitionString"]  # Fn::Sub resolved by the model
        assert self.pipeline in definition and self.queue in definition and "${" not in definition
        self.gate = self.sfn.create_state_machine(
            name=gate["StateMachineName"], definition=definition, roleArn=ROLE
        )["stateMachineArn"]
        self.ticks = 0

    def _stand_in(self) -> dict[str, Any]:
        """A pipeline that stays RUNNING until :meth:`release` hands back its task token."""
        return {
            "StartAt": "Run",
            "States": {
                "Run": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": self.control, "MessageBody.$": "$$.Task.Token"},
                    "End": True,
                }
            },
        }

    def land(self, keys: list[str]) -> dict[str, datetime]:
        for key in keys:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=b'{"InvoiceNo": "1"}\n')
        listed = self.s3.list_objects_v2(Bucket=self.bucket)["Contents"]
        return {o["Key"]: o["LastModified"] for o in listed if o["Key"] in keys}

    def tick(self, at: str) -> dict[str, Any]:
        self.ticks += 1
        arn = self.sfn.start_execution(
            stateMachineArn=self.gate, name=f"tick-{self.ticks}", input=json.dumps({"time": at})
        )["executionArn"]
        return finished(self.sfn, arn)

    def release(self) -> None:
        (message,) = self.sqs.receive_message(QueueUrl=self.control, WaitTimeSeconds=5)["Messages"]
        self.sfn.send_task_success(taskToken=message["Body"], output="{}")
        self.sqs.delete_message(QueueUrl=self.control, ReceiptHandle=message["ReceiptHandle"])
        for run in self.runs():
            assert finished(self.sfn, run["executionArn"])["status"] == "SUCCEEDED"

    def runs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.sfn.list_executions(stateMachineArn=self.pipeline)[
            "executions"
        ]
        return sorted(found, key=lambda e: e["startDate"])

    def queued(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attributes.values())


def covered(lake: Lake, arrived: dict[str, datetime]) -> list[str]:
    """The arrivals no run took: none started at or after the object was written."""
    starts = [run["startDate"] for run in lake.runs()]
    return [key for key, at in arrived.items() if not any(start >= at for start in starts)]


@pytest.fixture
def lake() -> Iterator[Lake]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        sfn_casing(),
        sqs_atomic_deletes(),
    ):
        yield Lake()


def test_arrivals_during_a_run_start_exactly_one_more_run_and_none_is_lost(lake: Lake) -> None:
    assert lake.tick("2026-12-02T05:00:00Z")["status"] == "SUCCEEDED"
    assert lake.runs() == [] and lake.queued() == 0  # nothing arrived, nothing started

    first = lake.land([f"landing/customers/export-{i}.csv" for i in range(3)])
    assert lake.queued() == 3
    ticked = lake.tick("2026-12-02T05:05:00Z")
    assert ticked["status"] == "SUCCEEDED", lake.sfn.get_execution_history(
        executionArn=ticked["executionArn"]
    )["events"][-6:]
    (run,) = lake.runs()
    assert run["name"] == "arrival-2026-12-02T05-05-00Z" and run["status"] == "RUNNING"
    assert lake.queued() == 0 and covered(lake, first) == []

    # 57 objects land while the run is RUNNING (more than five rounds of ten), and some
    # objects outside landing/ (Firehose's failed records, bronze output) that start nothing.
    during = lake.land(
        [f"landing/order_lines/stream/2026/12/02/05/orders-{i:02}.gz" for i in range(50)]
        + [f"landing/reviews/reviews-{i}.jsonl" for i in range(7)]
    )
    lake.land(["landing-errors/stream/format-conversion-failed/x.gz", "bronze/x.parquet"])
    assert lake.queued() == 57
    for at in ("2026-12-02T05:10:00Z", "2026-12-02T05:15:00Z"):
        assert lake.tick(at)["status"] == "SUCCEEDED"
        assert len(lake.runs()) == 1 and lake.queued() == 57  # busy: every arrival waits

    lake.release()
    assert lake.tick("2026-12-02T05:20:00Z")["status"] == "SUCCEEDED"
    runs = lake.runs()
    assert [r["name"] for r in runs] == [
        "arrival-2026-12-02T05-05-00Z",
        "arrival-2026-12-02T05-20-00Z",
    ]
    assert lake.queued() == 0 and covered(lake, {**first, **during}) == []
    input_ = json.loads(lake.sfn.describe_execution(executionArn=runs[1]["executionArn"])["input"])
    assert (input_["datasets"], input_["full_refresh"]) == ("all", "false")


def test_a_tick_delivered_twice_starts_at_most_one_run_and_loses_no_arrival(lake: Lake) -> None:
    arrived = lake.land([f"landing/order_lines/export-{i}.csv" for i in range(25)])
    results: list[dict[str, Any]] = []

    def tick() -> None:
        results.append(lake.tick("2026-12-02T06:00:00Z"))

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2
    runs = lake.runs()
    assert [r["name"] for r in runs] == ["arrival-2026-12-02T06-00-00Z"]
    # Every arrival was either taken by the run (it started after the object was written) or
    # is still queued (a gate that lost the race sends its arrivals back) for the next tick.
    assert covered(lake, arrived) == [] or lake.queued() > 0
    statuses = sorted(r["status"] for r in results)
    assert statuses in (["SUCCEEDED", "SUCCEEDED"], ["FAILED", "SUCCEEDED"]), results
    if "FAILED" in statuses:
        assert lake.queued() >= 1  # the loser's arrivals were put back
