"""``medallion destroy``: empty an environment's buckets and delete its stack."""

from __future__ import annotations

import typer

from medallion.cli import options
from medallion.cli.errors import handled
from medallion.cli.output import console


def destroy_command(
    env: options.Env = "dev",
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
    yes: options.Yes = False,
    poll_seconds: options.PollSeconds = 5.0,
) -> None:
    """Delete every object version in the stack's buckets, then the stack medallion-<env>."""
    from medallion.aws.destroy import destroy
    from medallion.aws.stack import Target

    target = Target(env=env, region=region, endpoint_url=endpoint_url, poll_seconds=poll_seconds)
    with handled():
        destroy(
            target,
            console=console(),
            confirm=lambda question: yes or typer.confirm(question, default=False),
        )


def register(app: typer.Typer) -> None:
    """Add ``destroy`` to the CLI."""
    app.command("destroy")(destroy_command)
