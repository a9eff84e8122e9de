"""``medallion report``: what analysts will see in gold after a local run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with
from medallion.cli.output import console, heading, rich_table
from medallion.local.report import headlines


def report(lake: options.Lake = Path("lake")) -> None:
    """Print the headline gold figures through the analysts' views: what analysts will see."""
    if not lake.is_dir():
        raise exit_with(ExitCode.USAGE, f"no lake at {lake}")
    out = console()
    heading(out, "What analysts will see")
    for headline in headlines(str(lake)):
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


def register(app: typer.Typer) -> None:
    """Add ``medallion report`` to the CLI."""
    app.command(name="report")(report)
