"""``medallion run``: execute the pipeline's state machine locally on whatever is in landing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from medallion import REPO_ROOT
from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, failed_unless, handled
from medallion.cli.output import console
from medallion.cli.validate import contracts_valid, dataset_names, iso_day, local_settings


def run(
    landing: Annotated[
        Path | None,
        typer.Option(
            help="Landing directory (default <lake>/landing).", envvar="MEDALLION_LANDING"
        ),
    ] = None,
    lake: options.Lake = Path("lake"),
    run_id: options.RunId = None,
    datasets: options.Datasets = "",
    observation_end: options.ObservationEnd = None,
    full_refresh: options.FullRefresh = False,
    contracts: Annotated[
        Path, typer.Option(help="The contracts directory.", envvar="MEDALLION_CONTRACTS")
    ] = REPO_ROOT / "contracts",
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the execution history as JSON, nothing else.",
            envvar="MEDALLION_JSON",
        ),
    ] = False,
) -> None:
    """Run bronze, silver, gold, the crawlers and the views through the Step Functions definition,
    locally (moto's ASL engine, local PySpark, DuckDB, SMTP alerts)."""
    from medallion.local import run_roots
    from medallion.local.jobhost import launching_jobs
    from medallion.local.lakelock import refuse_if_held

    check_options(landing, datasets, observation_end, contracts)
    out = console()
    if not as_json:
        out.print(f"[bold]medallion run[/bold] lake={lake} landing={landing or lake / 'landing'}")
    root, landing_root = run_roots(lake, landing)
    with handled():
        refuse_if_held(root)  # a run its lake refuses starts no job host
        with launching_jobs(root, landing_root, full_refresh) as jobs:
            # The job host's JVM boots while the run's libraries (moto, boto3, DuckDB) are
            # imported.
            from medallion.aws.stepfunctions import RunOptions
            from medallion.cli.progress import ProgressPrinter
            from medallion.local import pipeline

            config = pipeline.LocalRunConfig(
                lake=lake, landing=landing, contracts_root=contracts, job_runner=jobs
            )
            run_options = RunOptions(run_id or "", datasets, observation_end or "", full_refresh)
            outcome = pipeline.run_local(
                config, run_options, on_event=None if as_json else ProgressPrinter(out)
            )
    from medallion.cli.progress import print_run, run_json

    if as_json:
        typer.echo(json.dumps(run_json(outcome), indent=2, default=str))
        failed_unless(outcome.status == "SUCCEEDED")
    else:
        failed_unless(print_run(out, outcome, lake))


def check_options(
    landing: Path | None, datasets: str, observation_end: str | None, contracts: Path
) -> None:
    """Refuse what cannot run before anything starts: a bad day, a landing that is not there, an
    unknown dataset, a malformed contract, a bad local setting."""
    iso_day(observation_end, "--observation-end")
    if landing is not None and not landing.is_dir():
        # A landing named on purpose that is not there is a typo, not a day with nothing new.
        raise exit_with(ExitCode.USAGE, f"--landing {landing}: no such folder")
    dataset_names(datasets, contracts)
    contracts_valid(contracts)
    local_settings()


def register(app: typer.Typer) -> None:
    """Add ``medallion run``."""
    app.command("run")(run)
