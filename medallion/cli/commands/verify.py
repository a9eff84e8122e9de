"""``medallion verify``: ask the deployed account's IAM policy simulator what the pipeline does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from medallion.access import model
from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, failed_unless
from medallion.cli.output import console


def verify(
    env: options.Env = "dev",
    accesses: Annotated[
        Path,
        typer.Option(help="Recorded accesses (default: the ones shipped with medallion)."),
    ] = model.SHIPPED,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
) -> None:
    """Check every access a local run recorded against the deployed stack's IAM policies, with
    the account's policy simulator; exit 1 naming each denied principal, action and ARN."""
    import boto3

    from medallion.access import verify as access_verify

    session = boto3.Session(region_name=region) if region else boto3.Session()
    recorded = model.load(accesses)
    try:
        denials = access_verify.simulate(recorded, env, session, endpoint_url=endpoint_url)
    except access_verify.VerifyError as exc:
        raise exit_with(ExitCode.AWS, str(exc)) from exc
    out = console()
    for denial in denials:
        out.print(f"[red]DENIED[/red] {escape(str(denial))}")
    out.print(f"{len(recorded)} accesses checked for medallion-{env}, {len(denials)} denied")
    failed_unless(not denials)


def register(app: typer.Typer) -> None:
    """Add ``medallion verify``."""
    app.command("verify")(verify)
