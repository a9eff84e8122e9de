"""``medallion run``: execute the pipeline's state machine locally on whatever is in landing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from medallion.aws.stepfunctions import RunOptions
from medallion.local.jobrunner import REPO_ROOT


def _ledger(console: Console, lake: Path, run_id: str | None) -> bool:
    """Print this run's conservation ledger; False when a row does not balance."""
    # The ledger is the lead's module; a checkout without it still runs.
    try:
        from medallion.local import ledger
    except ImportError:
        return True
    return bool(ledger.render(str(lake), run_id=run_id, console=console))


def run(
    landing: Annotated[
        Path | None,
        typer.Option(
            help="Landing directory (default <lake>/landing).", envvar="MEDALLION_LANDING"
        ),
    ] = None,
    lake: Annotated[
        Path, typer.Option(help="The local lake directory.", envvar="MEDALLION_LAKE")
    ] = Path("lake"),
    run_id: Annotated[
        str | None,
        typer.Option(help="The run id (default: the execution name).", envvar="MEDALLION_RUN_ID"),
    ] = None,
    datasets: Annotated[
        str,
        typer.Option(help="Comma-separated datasets (default: all).", envvar="MEDALLION_DATASETS"),
    ] = "",
    observation_end: Annotated[
        str | None,
        typer.Option(
            help="Gold's observation end, YYYY-MM-DD (default: the last date in the data).",
            envvar="MEDALLION_OBSERVATION_END",
        ),
    ] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Recompute every layer from the one below.")
    ] = False,
    contracts: Annotated[
        Path, typer.Option(help="The contracts directory.", envvar="MEDALLION_CONTRACTS")
    ] = REPO_ROOT / "contracts",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the execution history as JSON, nothing else.")
    ] = False,
) -> None:
    """Run bronze, silver, gold, the crawlers and the views through the Step Functions definition,
    locally (moto's ASL engine, local PySpark, DuckDB, SMTP alerts)."""
    from medallion.local.pipeline import LocalRunConfig, run_local
    from medallion.cli.progress import ProgressPrinter, empty_marts, history_json, summary_table

    if observation_end:
        try:
            date.fromisoformat(observation_end)
        except ValueError:
            raise typer.BadParameter(
                "expected YYYY-MM-DD", param_hint="--observation-end"
            ) from None
    console = Console()
    config = LocalRunConfig(lake=lake, landing=landing, contracts_root=contracts)
    options = RunOptions(
        run_id=run_id or "",
        datasets=datasets,
        observation_end=observation_end or "",
        full_refresh=full_refresh,
    )
    if not as_json:
        console.print(
            f"[bold]medallion run[/bold] lake={lake} landing={landing or lake / 'landing'}"
        )
    outcome = run_local(config, options, on_event=None if as_json else ProgressPrinter(console))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "execution_arn": outcome.execution_arn,
                    "status": outcome.status,
                    "error": outcome.error,
                    "cause": outcome.cause,
                    "failed_state": outcome.failed_state,
                    "summaries": outcome.summaries,
                    "alerts": [str(p) for p in outcome.alerts],
                    "history": history_json(outcome.history),
                },
                indent=2,
                default=str,
            )
        )
    else:
        console.print(summary_table(outcome.events, outcome.summaries, outcome.failed_state))
        for line in empty_marts(outcome.summaries):
            console.print(f"[yellow]gold:[/yellow] {escape(line)}")
        if outcome.status == "SUCCEEDED":
            run_options = (outcome.output or {}).get("options", {})
            if not _ledger(console, lake, run_options.get("run_id")):
                console.print("[bold red]the conservation ledger does not balance[/bold red]")
                raise typer.Exit(1)
        else:
            console.print(
                f"[bold red]{outcome.status}[/bold red] at {escape(str(outcome.failed_state))}: "
                f"{escape(outcome.error)}: {escape(outcome.cause)}"
            )
            console.print(f"job logs: {lake / '_meta' / 'logs'}")
    if outcome.status != "SUCCEEDED":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``medallion run``."""
    app.command("run")(run)
