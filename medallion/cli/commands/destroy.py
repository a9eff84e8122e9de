"""``medallion destroy``: empty an environment's buckets and delete its stack."""

from __future__ import annotations

import typer
from rich.console import Console

from medallion.aws import AwsError
from medallion.cli.commands.deploy import EndpointUrl, Env, PollSeconds, Region, Yes
from medallion.aws.deploy import Target, destroy


def destroy_command(
    env: Env = "dev",
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    yes: Yes = False,
    poll_seconds: PollSeconds = 5.0,
) -> None:
    """Delete every object version in the stack's buckets, then the stack medallion-<env>."""
    console = Console()
    target = Target(env=env, region=region, endpoint_url=endpoint_url, poll_seconds=poll_seconds)
    try:
        destroy(
            target,
            console=console,
            confirm=lambda question: yes or typer.confirm(question, default=False),
        )
    except AwsError as exc:
        console.print(f"[red]destroy failed:[/red] {exc}")
        raise typer.Exit(1) from exc


def register(app: typer.Typer) -> None:
    """Add ``destroy`` to the CLI."""
    app.command("destroy")(destroy_command)
