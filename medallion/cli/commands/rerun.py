"""``medallion rerun``: redrive a failed execution, or start a new one with its input."""

from __future__ import annotations

from typing import Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import failed_unless, handled
from medallion.cli.output import console


def rerun(
    execution: Annotated[str, typer.Argument(help="The execution ARN or name to run again.")],
    env: options.Env = "dev",
    state_machine_arn: options.StateMachineArn = None,
    wait: options.Wait = False,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
) -> None:
    """Redrive a failed execution from the state that failed when Step Functions allows it;
    otherwise start a new execution with the same input. Prints the ARN now running."""
    from medallion.aws import stepfunctions as sfn_ops
    from medallion.cli.progress import follow

    with handled():
        target = sfn_ops.target(env, state_machine_arn, region, endpoint_url)
        arn = sfn_ops.execution_arn(target.state_machine_arn, execution)
        running = sfn_ops.rerun(arn, sfn=target.sfn)
    typer.echo(f"{'redriven' if running == arn else 'started'} {running}")
    if wait:
        failed_unless(follow(console(), target.sfn, running) == "SUCCEEDED")


def register(app: typer.Typer) -> None:
    """Add ``medallion rerun``."""
    app.command("rerun")(rerun)
