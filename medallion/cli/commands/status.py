"""``medallion status``: the latest pipeline executions on AWS, or one execution's state."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import handled
from medallion.cli.output import console


def status(
    execution: Annotated[
        str | None, typer.Argument(help="An execution ARN or name (default: the latest runs).")
    ] = None,
    env: options.Env = "dev",
    state_machine_arn: options.StateMachineArn = None,
    limit: Annotated[int, typer.Option(help="How many executions to list.")] = 5,
    as_json: options.AsJson = False,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
) -> None:
    """Show the status of the latest executions, or of one."""
    from medallion.aws import stepfunctions as sfn_ops
    from medallion.cli.progress import executions_table

    with handled():
        target = sfn_ops.target(env, state_machine_arn, region, endpoint_url)
        rows = sfn_ops.executions(target, execution, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
    else:
        console().print(executions_table(rows, f"medallion-{env} executions"))


def register(app: typer.Typer) -> None:
    """Add ``medallion status``."""
    app.command("status")(status)
