"""``medallion history``: past pipeline executions on AWS, or the states one went through."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import handled
from medallion.cli.output import console


def history(
    execution: Annotated[
        str | None, typer.Argument(help="An execution ARN or name: show its states.")
    ] = None,
    env: options.Env = "dev",
    state_machine_arn: options.StateMachineArn = None,
    status_filter: Annotated[
        str | None,
        typer.Option("--status", help="Only executions in this status (FAILED, SUCCEEDED...)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many executions to list.")] = 20,
    as_json: options.AsJson = False,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
) -> None:
    """List past executions, or show one execution's states, durations and failure."""
    from medallion.aws import stepfunctions as sfn_ops
    from medallion.cli.progress import executions_table, history_json, summary_table

    with handled():
        target = sfn_ops.target(env, state_machine_arn, region, endpoint_url)
        if execution is None:
            rows = sfn_ops.executions(target, None, status=status_filter, limit=limit)
        else:
            events = sfn_ops.history(
                sfn_ops.execution_arn(target.state_machine_arn, execution), sfn=target.sfn
            )
    if execution is None:
        if as_json:
            typer.echo(json.dumps(rows, indent=2, default=str))
        else:
            console().print(executions_table(rows, f"medallion-{env} history"))
    elif as_json:
        typer.echo(json.dumps(history_json(events), indent=2, default=str))
    else:
        steps = list(sfn_ops.step_events(events))
        console().print(summary_table(steps, {}, None, quiet=False))


def register(app: typer.Typer) -> None:
    """Add ``medallion history``."""
    app.command("history")(history)
