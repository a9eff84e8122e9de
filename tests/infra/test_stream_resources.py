"""The optional order stream and runs on arrival in the template: properties and least privilege.

The roles' policies are evaluated with iam-simulate (``medallion.access.evaluate.simulate``, AWS's
evaluation logic) on the stack as deployed with both options on (``StackModel``): what each role
must do is allowed, and its neighbours (another prefix, another state machine) are denied.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.stack import render
from medallion.access.evaluate import resource_policies, simulate
from medallion.aws.stackmodel import StackModel

TEMPLATE = json.loads(render("dev"))
ON = {"OrderStreamEnabled": "true", "OrderStreamApiEnabled": "true", "RunOnArrival": "true"}
MODEL = StackModel(TEMPLATE, "medallion-dev", parameters=ON)
OFF = StackModel(TEMPLATE, "medallion-dev")
LAKE = MODEL.arn("LakeBucket")
KEY = MODEL.arn("DataKey")
S3_VIA = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}


def test_everything_new_is_off_by_default_and_on_when_asked() -> None:
    new = {
        lid: r["Condition"]
        for lid, r in TEMPLATE["Resources"].items()
        if r.get("Condition") in {"HasOrderStream", "HasOrderStreamApi", "HasRunOnArrival"}
    }
    assert {"OrderStream", "OrderStreamApi", "ArrivalGateStateMachine", "ArrivalQueue"} <= set(new)
    for condition in set(new.values()):
        assert not OFF.condition(condition) and MODEL.condition(condition)
    assert "NotificationConfiguration" not in OFF.properties("LakeBucket")


def test_the_delivery_stream_writes_gzip_under_the_stream_prefix_with_the_lake_key() -> None:
    stream = MODEL.properties("OrderStream")
    assert stream["DeliveryStreamType"] == "DirectPut"
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {
        "KeyType": "CUSTOMER_MANAGED_CMK",
        "KeyARN": KEY,
    }
    s3 = stream["ExtendedS3DestinationConfiguration"]
    assert s3["BucketARN"] == LAKE and s3["CompressionFormat"] == "GZIP"
    assert s3["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"] == KEY
    assert s3["Prefix"] == "landing/order_lines/stream/!{timestamp:yyyy/MM/dd/HH}/"
    # failed records outside landing/: bronze and the arrivals rule never see them
    assert s3["ErrorOutputPrefix"].startswith(
        "landing-errors/stream/!{firehose:error-output-type}/"
    )
    assert (s3["BufferingHints"]["SizeInMBs"], s3["BufferingHints"]["IntervalInSeconds"]) == (
        "64",
        "300",
    )
    params = TEMPLATE["Parameters"]
    assert (
        params["StreamBufferSizeMiB"]["MinValue"],
        params["StreamBufferSizeMiB"]["MaxValue"],
    ) == (
        1,
        128,
    )
    interval = params["StreamBufferIntervalSeconds"]
    assert (interval["MinValue"], interval["MaxValue"]) == (0, 900)


def test_the_api_is_iam_authorised_throttled_logged_and_names_the_stack_stream() -> None:
    methods = MODEL.of_type("AWS::ApiGateway::Method")
    assert len(methods) == 2
    for lid in methods:
        method = MODEL.properties(lid)
        assert method["AuthorizationType"] == "AWS_IAM" and method["HttpMethod"] == "POST"
        integration = method["Integration"]
        assert integration["Type"] == "AWS" and integration["PassthroughBehavior"] == "NEVER"
        assert integration["Credentials"] == MODEL.arn("OrderStreamApiRole")
        body = integration["RequestTemplates"]["application/json"]
        assert body.startswith('{"DeliveryStreamName":"medallion-dev-orders","Record')
    stage = MODEL.properties("OrderStreamApiStage")
    assert stage["AccessLogSetting"]["DestinationArn"] == MODEL.arn("OrderStreamApiLogGroup")
    (setting,) = stage["MethodSettings"]
    assert setting["ThrottlingRateLimit"] > 0 and setting["ThrottlingBurstLimit"] > 0


def test_runs_on_arrival_watch_landing_only_and_tick_every_n_minutes() -> None:
    assert MODEL.properties("LakeBucket")["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    pattern = MODEL.properties("ArrivalRule")["EventPattern"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "landing/"}]
    assert pattern["detail"]["bucket"]["name"] == [MODEL.physical_name("LakeBucket")]
    assert MODEL.properties("ArrivalTick")["ScheduleExpression"] == "rate(15 minutes)"
    one = StackModel(TEMPLATE, "medallion-dev", parameters={**ON, "ArrivalMinMinutes": "1"})
    assert one.properties("ArrivalTick")["ScheduleExpression"] == "rate(1 minute)"
    # the schedule option stays beside it
    assert "PipelineSchedule" in TEMPLATE["Resources"]


CASES: list[tuple[Any, ...]] = [
    # Firehose writes its two prefixes with the lake key through S3, nothing else
    (
        True,
        "OrderStreamRole",
        "s3:PutObject",
        f"{LAKE}/landing/order_lines/stream/2026/12/02/05/o.gz",
    ),
    (True, "OrderStreamRole", "s3:PutObject", f"{LAKE}/landing-errors/stream/x/2026/12/02/05/o.gz"),
    (False, "OrderStreamRole", "s3:PutObject", f"{LAKE}/landing/order_lines/export.csv"),
    (False, "OrderStreamRole", "s3:PutObject", f"{LAKE}/landing/customers/o.gz"),
    (False, "OrderStreamRole", "s3:PutObject", f"{LAKE}/bronze/order_lines/o.gz"),
    (False, "OrderStreamRole", "s3:DeleteObject", f"{LAKE}/landing/order_lines/stream/o.gz"),
    (True, "OrderStreamRole", "kms:GenerateDataKey", KEY, {**S3_VIA}),
    (False, "OrderStreamRole", "kms:GenerateDataKey", KEY, {}),
    (
        False,
        "OrderStreamRole",
        "kms:Decrypt",
        KEY,
        {"kms:ViaService": "sqs.eu-west-1.amazonaws.com"},
    ),
    # the API forwards to the one stream
    (True, "OrderStreamApiRole", "firehose:PutRecordBatch", "stream:medallion-dev-orders"),
    (False, "OrderStreamApiRole", "firehose:PutRecordBatch", "stream:someone-elses"),
    (False, "OrderStreamApiRole", "firehose:DeleteDeliveryStream", "stream:medallion-dev-orders"),
    # the gate sees and starts the pipeline only, and takes arrivals
    (True, "ArrivalGateRole", "states:StartExecution", "machine:medallion-dev-pipeline"),
    (True, "ArrivalGateRole", "states:ListExecutions", "machine:medallion-dev-pipeline"),
    (False, "ArrivalGateRole", "states:StartExecution", "machine:medallion-dev-arrival-gate"),
    (False, "ArrivalGateRole", "states:StopExecution", "execution:medallion-dev-pipeline:r1"),
    (True, "ArrivalGateRole", "sqs:ReceiveMessage", "queue:medallion-dev-arrivals"),
    (True, "ArrivalGateRole", "sqs:DeleteMessage", "queue:medallion-dev-arrivals"),
    (False, "ArrivalGateRole", "sqs:PurgeQueue", "queue:medallion-dev-arrivals"),
    # EventBridge's tick starts the gate only
    (True, "ArrivalTickRole", "states:StartExecution", "machine:medallion-dev-arrival-gate"),
    (False, "ArrivalTickRole", "states:StartExecution", "machine:medallion-dev-pipeline"),
]


def _arn(short: str) -> str:
    kind, _, name = short.partition(":")
    head = "arn:aws:{}:eu-west-1:123456789012:"
    return {
        "stream": head.format("firehose") + f"deliverystream/{name}",
        "machine": head.format("states") + f"stateMachine:{name}",
        "execution": head.format("states") + f"execution:{name}",
        "queue": head.format("sqs") + name,
    }.get(kind, short)


def test_each_new_role_may_do_its_job_and_nothing_beside_it() -> None:
    policies: dict[str, Any] = {}
    resources = resource_policies(MODEL)
    for name, document in resources.items():
        policies[f"resource:{name}"] = document
    requests = []
    for _allowed, role, action, short, *context in CASES:
        (inline,) = MODEL.properties(role)["Policies"]
        policies[role] = inline["PolicyDocument"]
        resource = _arn(short)
        owner = next((arn for arn in resources if resource.startswith(arn)), None)
        requests.append(
            {
                "principal": MODEL.arn(role),
                "action": action,
                "resource": resource,
                "accountId": "123456789012",
                "context": context[0] if context else {},
                "identityPolicies": [role],
                "resourcePolicy": f"resource:{owner}" if owner else None,
            }
        )
    results = simulate(policies, requests)
    wrong = [
        f"{role} {action} {short}: {result['decision']}"
        for (allowed, role, action, short, *_), result in zip(CASES, results, strict=True)
        if (result["decision"] == "Allowed") != allowed
    ]
    assert wrong == []


@pytest.mark.parametrize("role", ["OrderStreamRole", "OrderStreamApiRole", "ArrivalGateRole"])
def test_the_roles_trust_their_service_of_this_account(role: str) -> None:
    (trust,) = MODEL.properties(role)["AssumeRolePolicyDocument"]["Statement"]
    service = {
        "OrderStreamRole": "firehose.amazonaws.com",
        "OrderStreamApiRole": "apigateway.amazonaws.com",
        "ArrivalGateRole": "states.amazonaws.com",
    }[role]
    assert trust["Principal"] == {"Service": service}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_only_the_arrivals_rule_may_send_to_the_queue() -> None:
    (statement,) = MODEL.properties("ArrivalQueuePolicy")["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == ["sqs:SendMessage"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": MODEL.arn("ArrivalRule")}}
