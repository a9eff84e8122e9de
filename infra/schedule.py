"""The optional EventBridge schedule that starts the pipeline, and the builder of such rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from troposphere import GetAtt, Ref, Template, events

from infra.common import name
from infra.iam import Document, service_role
from infra.policies.schedule import schedule_policy

HAS_SCHEDULE = "HasSchedule"

# A scheduled run: all datasets, incremental; the run id defaults to the execution name.
SCHEDULED_INPUT = json.dumps({"datasets": "all", "full_refresh": "false"}, sort_keys=True)


@dataclass(frozen=True)
class ScheduledStart:
    """An EventBridge rule that starts a state machine on a schedule, and the role it uses.

    Attributes
    ----------
    rule : str
        The rule's logical id.
    role : str
        The role's logical id.
    purpose : str
        The role's description: what EventBridge starts.
    policy_name : str
        The name of the role's inline policy.
    rule_name : str
        The rule's physical name, after ``medallion-<env>-``.
    description : str
        The rule's description.
    target_id : str
        The id of the rule's one target.
    condition : str
        The condition both are created under.
    """

    rule: str
    role: str
    purpose: str
    policy_name: str
    rule_name: str
    description: str
    target_id: str
    condition: str


PIPELINE_SCHEDULE = ScheduledStart(
    rule="PipelineSchedule",
    role="ScheduleRole",
    purpose="EventBridge starts the pipeline",
    policy_name="start-pipeline",
    rule_name="schedule",
    description="Starts the medallion pipeline",
    target_id="pipeline",
    condition=HAS_SCHEDULE,
)


def add_scheduled_start(
    template: Template,
    start: ScheduledStart,
    state_machine: object,
    expression: object,
    policy: Document,
    target_input: str | None = None,
) -> events.Rule:
    """Add a rule that starts a state machine on a schedule, and the role it starts it with.

    Parameters
    ----------
    template : Template
        The template to add to.
    start : ScheduledStart
        The rule's and the role's names and descriptions, and their condition.
    state_machine : StateMachine
        What the rule starts.
    expression : Ref or function
        The schedule (``cron(...)`` or ``rate(...)``).
    policy : dict
        The role's inline policy: start that state machine, nothing else.
    target_input : str, optional
        The execution's input; without it, EventBridge's scheduled event.

    Returns
    -------
    events.Rule
        The rule.
    """
    role = template.add_resource(
        service_role(
            start.role,
            start.purpose,
            "events.amazonaws.com",
            start.policy_name,
            policy,
            Condition=start.condition,
        )
    )
    given: dict[str, Any] = {"Input": target_input} if target_input is not None else {}
    return template.add_resource(
        events.Rule(
            start.rule,
            Condition=start.condition,
            Name=name(start.rule_name),
            Description=start.description,
            ScheduleExpression=expression,
            State="ENABLED",
            Targets=[
                events.Target(
                    Id=start.target_id,
                    Arn=Ref(state_machine),
                    RoleArn=GetAtt(role, "Arn"),
                    **given,
                )
            ],
        )
    )


def add_schedule(template: Template, state_machine: object, expression: Ref) -> None:
    """Add the rule (and its role) that starts the state machine on a schedule.

    Parameters
    ----------
    template : Template
        The template to add to.
    state_machine : StateMachine
        The pipeline.
    expression : Ref
        The Schedule parameter (``cron(...)`` or ``rate(...)``); nothing is added to the running
        stack when it is empty.
    """
    add_scheduled_start(
        template,
        PIPELINE_SCHEDULE,
        state_machine,
        expression,
        schedule_policy(Ref(state_machine)),
        SCHEDULED_INPUT,
    )
