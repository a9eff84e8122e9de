"""The optional EventBridge schedule that starts the pipeline."""

from __future__ import annotations

import json

from troposphere import GetAtt, Ref, Template, events

from infra.common import name
from infra.iam import service_role
from infra.policies.schedule import schedule_policy

HAS_SCHEDULE = "HasSchedule"

# A scheduled run: all datasets, incremental; the run id defaults to the execution name.
SCHEDULED_INPUT = json.dumps({"datasets": "all", "full_refresh": "false"}, sort_keys=True)


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
    role = template.add_resource(
        service_role(
            "ScheduleRole",
            "EventBridge starts the pipeline",
            "events.amazonaws.com",
            "start-pipeline",
            schedule_policy(Ref(state_machine)),
            Condition=HAS_SCHEDULE,
        )
    )
    template.add_resource(
        events.Rule(
            "PipelineSchedule",
            Condition=HAS_SCHEDULE,
            Name=name("schedule"),
            Description="Starts the medallion pipeline",
            ScheduleExpression=expression,
            State="ENABLED",
            Targets=[
                events.Target(
                    Id="pipeline",
                    Arn=Ref(state_machine),
                    RoleArn=GetAtt(role, "Arn"),
                    Input=SCHEDULED_INPUT,
                )
            ],
        )
    )
