"""Runs on arrival: the gate takes arrivals and starts the pipeline; EventBridge starts the gate."""

from __future__ import annotations

from infra.iam import Arn, Document, document, statement
from infra.policies.state_machine import logs_and_tracing


def arrival_gate_policy(pipeline_arn: Arn, queue_arn: Arn) -> Document:
    """The gate's role: see whether the pipeline runs and start it; receive, delete, re-send.

    Parameters
    ----------
    pipeline_arn : str or function
        The pipeline state machine (ListExecutions and StartExecution name it).
    queue_arn : str or function
        The arrivals queue.

    Returns
    -------
    dict
        The policy document.
    """
    return document(
        statement("SeeRunningPipelines", ["states:ListExecutions"], [pipeline_arn]),
        statement("StartThePipeline", ["states:StartExecution"], [pipeline_arn]),
        statement(
            "TakeArrivals",
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"],
            [queue_arn],
        ),
        *logs_and_tracing(),
    )


def arrival_tick_policy(gate_arn: Arn) -> Document:
    """What EventBridge may do every N minutes: start the gate, nothing else."""
    return document(statement("StartTheGate", ["states:StartExecution"], [gate_arn]))


def arrival_queue_policy(queue_arn: Arn, rule_arn: Arn) -> Document:
    """The queue's resource policy: only the arrivals rule of this stack may send to it.

    Parameters
    ----------
    queue_arn, rule_arn : str or function
        The queue and the EventBridge rule that matches objects created under ``landing/``.

    Returns
    -------
    dict
        The policy document (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions).
    """
    return document(
        {
            **statement(
                "ArrivalRuleSends",
                ["sqs:SendMessage"],
                [queue_arn],
                condition={"ArnEquals": {"aws:SourceArn": rule_arn}},
            ),
            "Principal": {"Service": "events.amazonaws.com"},
        }
    )
