"""``medallion start``: start a pipeline execution on AWS, and optionally follow it."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from medallion.aws import operations as operate
from medallion.aws import stepfunctions as sfn_ops


def start(
    env: operate.Env = "dev",
    state_machine_arn: operate.StateMachineArn = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Run id and execution name (default: generated).", envvar="MEDALLION_RUN_ID"
        ),
    ] = None,
    datasets: Annotated[
        str,
        typer.Option(help="Comma-separated datasets (default: all).", envvar="MEDALLION_DATASETS"),
    ] = "",
    observation_end: Annotated[
        str | None,
        typer.Option(
            help="Gold's observation end, YYYY-MM-DD.", envvar="MEDALLION_OBSERVATION_END"
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Recompute every layer from the one below.")
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the execution until it ends.")
    ] = False,
    region: operate.Region = None,
    endpoint_url: operate.EndpointUrl = None,
) -> None:
    """Start the pipeline on AWS with these run options; print the execution ARN."""
    if observation_end:
        try:
            date.fromisoformat(observation_end)
        except ValueError:
            raise typer.BadParameter(
                "expected YYYY-MM-DD", param_hint="--observation-end"
            ) from None
    target = operate.target(env, state_machine_arn, region, endpoint_url)
    options = sfn_ops.RunOptions(run_id or "", datasets, observation_end or "", full_refresh)
    try:
        arn = sfn_ops.start(target.state_machine_arn, options, sfn=target.sfn)
    except sfn_ops.StepFunctionsError as exc:
        raise operate.fail(str(exc)) from exc
    typer.echo(arn)
    if wait and operate.follow(Console(), target.sfn, arn) != "SUCCEEDED":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``medallion start``."""
    app.command("start")(start)
