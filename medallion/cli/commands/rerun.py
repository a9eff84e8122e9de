"""``medallion rerun``: redrive a failed execution, or start a new one with its input."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from medallion.aws import operations as operate
from medallion.aws import stepfunctions as sfn_ops


def rerun(
    execution: Annotated[str, typer.Argument(help="The execution ARN or name to run again.")],
    env: operate.Env = "dev",
    state_machine_arn: operate.StateMachineArn = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the execution until it ends.")
    ] = False,
    region: operate.Region = None,
    endpoint_url: operate.EndpointUrl = None,
) -> None:
    """Redrive a failed execution from the state that failed when Step Functions allows it;
    otherwise start a new execution with the same input. Prints the ARN now running."""
    target = operate.target(env, state_machine_arn, region, endpoint_url)
    try:
        arn = sfn_ops.execution_arn(target.state_machine_arn, execution)
        running = sfn_ops.rerun(arn, sfn=target.sfn)
    except sfn_ops.StepFunctionsError as exc:
        raise operate.fail(str(exc)) from exc
    typer.echo(f"{'redriven' if running == arn else 'started'} {running}")
    if wait and operate.follow(Console(), target.sfn, running) != "SUCCEEDED":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``medallion rerun``."""
    app.command("rerun")(rerun)
