"""``medallion deploy``: package, upload and create or update an environment's stack."""

from __future__ import annotations

from typing import Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import handled
from medallion.cli.output import console
from medallion.cli.validate import key_values


def deploy_command(
    env: options.Env = "dev",
    alert_email: Annotated[
        str | None,
        typer.Option(
            "--alert-email",
            help="Who is emailed when a run fails (required once).",
            envvar="MEDALLION_ALERT_EMAIL",
        ),
    ] = None,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            help="Another stack parameter, Key=Value (e.g. GlueMaxWorkers=4); repeatable.",
            envvar="MEDALLION_STACK_PARAMETERS",
        ),
    ] = None,
    yes: options.Yes = False,
    poll_seconds: options.PollSeconds = 5.0,
) -> None:
    """Package the jobs, upload scripts, contracts and views, and create or update the stack
    medallion-<env> through a change set shown before it is applied; print the outputs."""
    from medallion.aws.deploy import deploy
    from medallion.aws.stack import Target

    target = Target(env=env, region=region, endpoint_url=endpoint_url, poll_seconds=poll_seconds)
    parameters = key_values(parameter or [], "--parameter")
    with handled():
        deploy(
            target,
            alert_email=alert_email,
            parameters=parameters,
            console=console(),
            confirm=lambda question: yes or typer.confirm(question, default=False),
        )


def register(app: typer.Typer) -> None:
    """Add ``deploy`` to the CLI."""
    app.command("deploy")(deploy_command)
