"""``medallion report``: what analysts will see in gold after a local run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, failed_unless
from medallion.cli.output import console, heading, rich_table


def report(lake: options.Lake = Path("lake")) -> None:
    """Print the headline gold figures through the analysts' views: what analysts will see
    (exit 1 when a section is not available, 2 when the lake has no gold tables)."""
    from medallion.local.report import EmptyLakeError, headlines

    if not lake.is_dir():
        raise exit_with(
            ExitCode.USAGE, f"no lake at {lake}: run `medallion run` first or pass --lake"
        )
    try:
        found = headlines(str(lake))
    except EmptyLakeError as err:
        raise exit_with(ExitCode.USAGE, str(err)) from None
    out = console()
    heading(out, "What analysts will see")
    for headline in found:
        if headline.frame is None:
            reason = escape(str(headline.error))
            out.print(f"[bold]{headline.title}[/bold]\n  [dim]not available: {reason}[/dim]")
        else:
            out.print(rich_table(headline.frame, title=headline.title))
        out.print()
    where = escape(str(lake))
    out.print(
        f'[dim]More: medallion query --lake {where} "select * from v_run_ledger"'
        f" · medallion dashboard --lake {where}[/dim]"
    )
    failed_unless(all(headline.error is None for headline in found))


def register(app: typer.Typer) -> None:
    """Add ``medallion report`` to the CLI."""
    app.command(name="report")(report)
