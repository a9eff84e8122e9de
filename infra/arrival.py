"""Runs on arrival (optional): new objects under landing/ start the pipeline, one run at a time.

S3 sends the lake's events to EventBridge; a rule puts each object created under ``landing/``
into an SQS queue; every N minutes EventBridge starts the arrival gate
(``statemachine/arrival_gate.asl.json``), which starts the pipeline when something arrived and
no execution is RUNNING.

Why no arrival is lost, and why at most one run starts:

- An object is written before S3 emits its event, and the event reaches the queue after that.
  The gate deletes a message only before it starts the run, so every object whose message it
  deleted was written before the start; bronze lists ``landing/`` after the start, so the run
  takes it. A message that arrives after the gate's last receive stays queued for a later
  tick (its object may be taken by this run too: the next run then ingests nothing twice, since
  bronze skips files its manifest holds).
- A RUNNING pipeline (any start: the gate, the Schedule, ``medallion start``) makes the gate
  receive nothing, so arrivals during a run wait for the first tick after it.
- If the start fails, the gate sends one message back, so the next tick starts a run (which
  lists ``landing/`` whole). Only if both the start and that send fail is the arrival's trigger
  lost; its object stays in ``landing/`` for the next run, whatever starts it.
- The run is named after the tick's scheduled time, and its input names the gate execution:
  a tick delivered twice (EventBridge delivers at least once) gives the second gate the same
  name with another input, which Step Functions refuses (ExecutionAlreadyExists), and that gate
  sends its arrivals back. So at most one run starts per tick, that is per N minutes.
- ListExecutions is eventually consistent: a run started by another hand a moment before a
  tick may be missed, and two runs may then overlap (each Glue job allows one run at a time,
  so the second run's first job fails and alerts). Runs the gate starts are a tick apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from troposphere import (
    Equals,
    GetAtt,
    If,
    Parameter,
    Ref,
    Sub,
    Template,
    events,
    s3,
    sqs,
    stepfunctions,
)

from infra.common import encrypted_log_group, flag_parameter, name, tags
from infra.iam import service_role
from infra.orchestration import STATE_MACHINE_LOGS, logging_and_tracing
from infra.policies.arrival import arrival_gate_policy, arrival_queue_policy, arrival_tick_policy
from infra.schedule import ScheduledStart, add_scheduled_start
from infra.storage import Storage

HAS_ARRIVAL = "HasRunOnArrival"
EVERY_MINUTE = "ArrivalEveryMinute"
GATE_DEFINITION = Path(__file__).resolve().parents[1] / "statemachine" / "arrival_gate.asl.json"
# An arrival waits in the queue for the run after the current one; SQS's longest retention
# (14 days) outlasts any run and an outage of the gate.
QUEUE_RETENTION_SECONDS = 14 * 24 * 3600

ARRIVAL_PARAMETERS: dict[str, dict[str, Any]] = {
    "RunOnArrival": flag_parameter(
        "Start the pipeline when objects arrive under landing/ (one run at a time, at most one "
        "per ArrivalMinMinutes); the Schedule works beside it"
    ),
    "ArrivalMinMinutes": dict(
        Type="Number",
        Default=15,
        MinValue=1,
        MaxValue=1440,
        Description="Minimum minutes between two runs started by arrivals (the gate's tick)",
    ),
}

ARRIVAL_TICK = ScheduledStart(
    rule="ArrivalTick",
    role="ArrivalTickRole",
    purpose="EventBridge starts the arrival gate",
    policy_name="start-arrival-gate",
    rule_name="arrival-tick",
    description="Starts the arrival gate every ArrivalMinMinutes",
    target_id="gate",
    condition=HAS_ARRIVAL,
)


def arrival_event_pattern(lake: object) -> dict[str, Any]:
    """Objects created in the lake under ``landing/``.

    Firehose's error prefix (``landing-errors/``) does not start with ``landing/``, so failed
    records start nothing. The fields are those of S3's "Object Created" event
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html).
    """
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [Ref(lake)]},
            "object": {"key": [{"prefix": "landing/"}]},
        },
    }


def gate_definition() -> str:
    """The gate's definition, compact, with its ``${...}`` placeholders left for ``Fn::Sub``."""
    text = GATE_DEFINITION.read_text(encoding="utf-8")
    return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)


def add_arrival_conditions(template: Template, params: dict[str, Parameter]) -> None:
    """Runs on arrival when RunOnArrival is true; ``rate(1 minute)`` is singular."""
    template.add_condition(HAS_ARRIVAL, Equals(Ref(params["RunOnArrival"]), "true"))
    template.add_condition(EVERY_MINUTE, Equals(Ref(params["ArrivalMinMinutes"]), "1"))


def add_arrival(
    template: Template,
    storage: Storage,
    pipeline: stepfunctions.StateMachine,
    minutes: Ref,
    log_retention_days: Ref,
) -> stepfunctions.StateMachine:
    """Add the lake's EventBridge notifications, the rule and queue, the gate and its tick.

    Parameters
    ----------
    template : Template
        The template to add to.
    storage : Storage
        The lake bucket (its notifications are turned on) and the key.
    pipeline : StateMachine
        The pipeline the gate starts.
    minutes : Ref
        The ArrivalMinMinutes parameter.
    log_retention_days : Ref
        The LogRetentionDays parameter.

    Returns
    -------
    StateMachine
        The gate.
    """
    storage.lake.NotificationConfiguration = If(
        HAS_ARRIVAL,
        s3.NotificationConfiguration(
            EventBridgeConfiguration=s3.EventBridgeConfiguration(EventBridgeEnabled=True)
        ),
        Ref("AWS::NoValue"),
    )
    queue = template.add_resource(
        sqs.Queue(
            "ArrivalQueue",
            Condition=HAS_ARRIVAL,
            QueueName=name("arrivals"),
            # SSE-SQS: EventBridge may send to it without a grant on the stack's key, and a
            # message holds only an object's key and size.
            SqsManagedSseEnabled=True,
            MessageRetentionPeriod=QUEUE_RETENTION_SECONDS,
            Tags=tags(),
        )
    )
    rule = template.add_resource(
        events.Rule(
            "ArrivalRule",
            Condition=HAS_ARRIVAL,
            Name=name("arrivals"),
            Description="Objects created under landing/ wait in the arrivals queue",
            EventPattern=arrival_event_pattern(storage.lake),
            State="ENABLED",
            Targets=[events.Target(Id="arrivals", Arn=GetAtt(queue, "Arn"))],
        )
    )
    template.add_resource(
        sqs.QueuePolicy(
            "ArrivalQueuePolicy",
            Condition=HAS_ARRIVAL,
            Queues=[Ref(queue)],
            PolicyDocument=arrival_queue_policy(GetAtt(queue, "Arn"), GetAtt(rule, "Arn")),
        )
    )
    gate = _add_gate(template, storage, pipeline, queue, log_retention_days)
    _add_tick(template, gate, minutes)
    return gate


def _add_gate(
    template: Template,
    storage: Storage,
    pipeline: stepfunctions.StateMachine,
    queue: sqs.Queue,
    log_retention_days: Ref,
) -> stepfunctions.StateMachine:
    log_group = template.add_resource(
        encrypted_log_group(
            "ArrivalGateLogGroup",
            STATE_MACHINE_LOGS,
            "arrival-gate",
            storage.key,
            log_retention_days,
            Condition=HAS_ARRIVAL,
        )
    )
    role = template.add_resource(
        service_role(
            "ArrivalGateRole",
            "the arrival gate starts the pipeline",
            "states.amazonaws.com",
            "start-pipeline-on-arrival",
            arrival_gate_policy(Ref(pipeline), GetAtt(queue, "Arn")),
            Condition=HAS_ARRIVAL,
        )
    )
    return template.add_resource(
        stepfunctions.StateMachine(
            "ArrivalGateStateMachine",
            Condition=HAS_ARRIVAL,
            StateMachineName=name("arrival-gate"),
            StateMachineType="STANDARD",
            RoleArn=GetAtt(role, "Arn"),
            # Fn::Sub, as the pipeline's: moto's CloudFormation resolves it, and does not apply
            # DefinitionSubstitutions
            DefinitionString=Sub(
                gate_definition(),
                PipelineStateMachineArn=Ref(pipeline),
                ArrivalQueueUrl=Ref(queue),
            ),
            **logging_and_tracing(log_group),
            Tags=tags(),
        )
    )


def _add_tick(template: Template, gate: stepfunctions.StateMachine, minutes: Ref) -> None:
    """Every N minutes EventBridge starts the gate with the scheduled event (its ``time``)."""
    every = If(EVERY_MINUTE, "rate(1 minute)", Sub("rate(${Minutes} minutes)", Minutes=minutes))
    add_scheduled_start(template, ARRIVAL_TICK, gate, every, arrival_tick_policy(Ref(gate)))
