"""``medallion backfill``: one full-refresh execution covering a date range."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from medallion.aws import operations as operate
from medallion.aws import stepfunctions as sfn_ops


def _day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint=flag) from None


def backfill(
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    date_to: Annotated[
        str, typer.Option("--to", help="Last day, YYYY-MM-DD (gold's observation end).")
    ],
    env: operate.Env = "dev",
    state_machine_arn: operate.StateMachineArn = None,
    datasets: Annotated[
        str,
        typer.Option(help="Comma-separated datasets (default: all).", envvar="MEDALLION_DATASETS"),
    ] = "",
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the execution until it ends.")
    ] = False,
    region: operate.Region = None,
    endpoint_url: operate.EndpointUrl = None,
) -> None:
    """Recompute the range in one execution: a full refresh with observation end = --to.

    One execution, not one per day: the jobs take no lower date bound and gold recomputes every
    mart from all of silver, so per-day runs would overwrite each other and end in the same place.
    """
    first, last = _day(date_from, "--from"), _day(date_to, "--to")
    target = operate.target(env, state_machine_arn, region, endpoint_url)
    try:
        arn = sfn_ops.backfill(target.state_machine_arn, first, last, datasets, sfn=target.sfn)
    except sfn_ops.StepFunctionsError as exc:
        raise operate.fail(str(exc)) from exc
    typer.echo(arn)
    if wait and operate.follow(Console(), target.sfn, arn) != "SUCCEEDED":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``medallion backfill``."""
    app.command("backfill")(backfill)
