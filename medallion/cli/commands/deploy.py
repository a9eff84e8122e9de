"""``medallion deploy``: package, upload and create or update an environment's stack."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from medallion.aws import AwsError
from medallion.aws.deploy import Target, deploy

Env = Annotated[
    str, typer.Option("--env", help="Environment (dev, prod...).", envvar="MEDALLION_ENV")
]
Region = Annotated[
    str | None, typer.Option("--region", help="AWS region (else AWS_REGION).", envvar="AWS_REGION")
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        help="Another AWS endpoint (e.g. a moto server).",
        envvar="MEDALLION_ENDPOINT_URL",
    ),
]
Yes = Annotated[
    bool, typer.Option("--yes", "-y", help="Apply without asking.", envvar="MEDALLION_ASSUME_YES")
]
PollSeconds = Annotated[
    float,
    typer.Option(
        "--poll-seconds",
        min=0.01,
        help="Seconds between two progress polls.",
        envvar="MEDALLION_POLL_SECONDS",
        hidden=True,
    ),
]


def parse_parameters(pairs: list[str]) -> dict[str, str]:
    """``Key=Value`` strings to a dict; a malformed pair is a usage error."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not Key=Value", param_hint="--parameter")
        parsed[key] = value
    return parsed


def deploy_command(
    env: Env = "dev",
    alert_email: Annotated[
        str | None,
        typer.Option(
            "--alert-email",
            help="Who is emailed when a run fails (required once).",
            envvar="MEDALLION_ALERT_EMAIL",
        ),
    ] = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option(
            "--parameter",
            "-p",
            help="Another stack parameter, Key=Value (e.g. GlueMaxWorkers=4); repeatable.",
            envvar="MEDALLION_STACK_PARAMETERS",
        ),
    ] = None,
    yes: Yes = False,
    poll_seconds: PollSeconds = 5.0,
) -> None:
    """Package the jobs, upload scripts, contracts and views, and create or update the stack
    medallion-<env> through a change set shown before it is applied; print the outputs."""
    console = Console()
    target = Target(env=env, region=region, endpoint_url=endpoint_url, poll_seconds=poll_seconds)
    try:
        deploy(
            target,
            alert_email=alert_email,
            parameters=parse_parameters(parameter or []),
            console=console,
            confirm=lambda question: yes or typer.confirm(question, default=False),
        )
    except AwsError as exc:
        console.print(f"[red]deploy failed:[/red] {exc}")
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Add ``deploy`` to the CLI."""
    app.command("deploy")(deploy_command)
