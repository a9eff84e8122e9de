"""``medallion history``: past pipeline executions on AWS, or the states one went through."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from medallion.aws import operations as operate
from medallion.aws import stepfunctions as sfn_ops
from medallion.cli.progress import history_json, summary_table


def history(
    execution: Annotated[
        str | None, typer.Argument(help="An execution ARN or name: show its states.")
    ] = None,
    env: operate.Env = "dev",
    state_machine_arn: operate.StateMachineArn = None,
    status_filter: Annotated[
        str | None,
        typer.Option("--status", help="Only executions in this status (FAILED, SUCCEEDED...)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many executions to list.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    region: operate.Region = None,
    endpoint_url: operate.EndpointUrl = None,
) -> None:
    """List past executions, or show one execution's states, durations and failure."""
    target = operate.target(env, state_machine_arn, region, endpoint_url)
    console = Console()
    try:
        if execution is None:
            rows = sfn_ops.list_executions(
                target.state_machine_arn, status=status_filter, limit=limit, sfn=target.sfn
            )
            if as_json:
                typer.echo(json.dumps(rows, indent=2, default=str))
            else:
                console.print(operate.executions_table(rows, f"medallion-{env} history"))
            return
        arn = sfn_ops.execution_arn(target.state_machine_arn, execution)
        events = sfn_ops.history(arn, sfn=target.sfn)
    except sfn_ops.StepFunctionsError as exc:
        raise operate.fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(history_json(events), indent=2, default=str))
    else:
        console.print(summary_table(list(sfn_ops.step_events(events)), {}, None, quiet=False))


def register(app: typer.Typer) -> None:
    """Add ``medallion history``."""
    app.command("history")(history)
