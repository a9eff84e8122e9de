"""``medallion start``: start a pipeline execution on AWS, and optionally follow it."""

from __future__ import annotations

import typer

from medallion import REPO_ROOT
from medallion.cli import options
from medallion.cli.errors import failed_unless, handled
from medallion.cli.output import console
from medallion.cli.validate import dataset_names, iso_day


def start(
    env: options.Env = "dev",
    state_machine_arn: options.StateMachineArn = None,
    run_id: options.RunId = None,
    datasets: options.Datasets = "",
    observation_end: options.ObservationEnd = None,
    full_refresh: options.FullRefresh = False,
    wait: options.Wait = False,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
) -> None:
    """Start the pipeline on AWS with these run options; print the execution ARN."""
    from medallion.aws import stepfunctions as sfn_ops
    from medallion.cli.progress import follow

    iso_day(observation_end, "--observation-end")
    dataset_names(datasets, REPO_ROOT / "contracts")
    options_ = sfn_ops.RunOptions(run_id or "", datasets, observation_end or "", full_refresh)
    with handled():
        target = sfn_ops.target(env, state_machine_arn, region, endpoint_url)
        arn = sfn_ops.start(target.state_machine_arn, options_, sfn=target.sfn)
    typer.echo(arn)
    if wait:
        failed_unless(follow(console(), target.sfn, arn) == "SUCCEEDED")


def register(app: typer.Typer) -> None:
    """Add ``medallion start``."""
    app.command("start")(start)
