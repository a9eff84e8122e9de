"""``medallion verify``: ask the deployed account's IAM policy simulator what the pipeline does."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import boto3
import typer
from rich.console import Console
from rich.markup import escape

from medallion.aws import operations as operate
from medallion.access import model
from medallion.access import verify as access_verify


def verify(
    env: operate.Env = "dev",
    accesses: Annotated[
        Path,
        typer.Option(help="Recorded accesses (default: the ones shipped with medallion)."),
    ] = model.SHIPPED,
    region: operate.Region = None,
    endpoint_url: operate.EndpointUrl = None,
) -> None:
    """Check every access a local run recorded against the deployed stack's IAM policies, with
    the account's policy simulator; exit 1 naming each denied principal, action and ARN."""
    session = boto3.Session(region_name=region) if region else boto3.Session()
    recorded = model.load(accesses)
    try:
        denials = access_verify.simulate(recorded, env, session, endpoint_url=endpoint_url)
    except access_verify.VerifyError as exc:
        raise operate.fail(str(exc)) from exc
    console = Console()
    for denial in denials:
        console.print(f"[red]DENIED[/red] {escape(str(denial))}")
    console.print(f"{len(recorded)} accesses checked for medallion-{env}, {len(denials)} denied")
    if denials:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``medallion verify``."""
    app.command("verify")(verify)
