"""``medallion status``: the latest pipeline executions on AWS, or one execution's state."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from medallion.aws import operations as operate
from medallion.aws import stepfunctions as sfn_ops


def status(
    execution: Annotated[
        str | None, typer.Argument(help="An execution ARN or name (default: the latest runs).")
    ] = None,
    env: operate.Env = "dev",
    state_machine_arn: operate.StateMachineArn = None,
    limit: Annotated[int, typer.Option(help="How many executions to list.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    region: operate.Region = None,
    endpoint_url: operate.EndpointUrl = None,
) -> None:
    """Show the status of the latest executions, or of one."""
    target = operate.target(env, state_machine_arn, region, endpoint_url)
    try:
        if execution:
            arn = sfn_ops.execution_arn(target.state_machine_arn, execution)
            rows = [sfn_ops.describe(arn, sfn=target.sfn)]
        else:
            rows = sfn_ops.list_executions(target.state_machine_arn, limit=limit, sfn=target.sfn)
    except sfn_ops.StepFunctionsError as exc:
        raise operate.fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
    else:
        Console().print(operate.executions_table(rows, f"medallion-{env} executions"))


def register(app: typer.Typer) -> None:
    """Add ``medallion status``."""
    app.command("status")(status)
