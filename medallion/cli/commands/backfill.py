"""``medallion backfill``: one full-refresh execution covering a date range."""

from __future__ import annotations

from typing import Annotated

import typer

from medallion import REPO_ROOT
from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, failed_unless, handled
from medallion.cli.output import console
from medallion.cli.validate import dataset_names, iso_day


def backfill(
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    date_to: Annotated[
        str, typer.Option("--to", help="Last day, YYYY-MM-DD (gold's observation end).")
    ],
    env: options.Env = "dev",
    state_machine_arn: options.StateMachineArn = None,
    datasets: options.Datasets = "",
    wait: options.Wait = False,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
) -> None:
    """Recompute the range in one execution: a full refresh with observation end = --to.

    One execution, not one per day: the jobs take no lower date bound and gold recomputes every
    mart from all of silver, so per-day runs would overwrite each other and end in the same place.
    """
    from medallion.aws import stepfunctions as sfn_ops
    from medallion.cli.progress import follow

    first, last = iso_day(date_from, "--from"), iso_day(date_to, "--to")
    assert first is not None and last is not None  # both options are required
    dataset_names(datasets, REPO_ROOT / "contracts")
    if last < first:
        raise exit_with(ExitCode.USAGE, f"--to {last} is before --from {first}")
    with handled():
        target = sfn_ops.target(env, state_machine_arn, region, endpoint_url)
        arn = sfn_ops.backfill(target.state_machine_arn, first, last, datasets, sfn=target.sfn)
    typer.echo(arn)
    if wait:
        failed_unless(follow(console(), target.sfn, arn) == "SUCCEEDED")


def register(app: typer.Typer) -> None:
    """Add ``medallion backfill``."""
    app.command("backfill")(backfill)
