"""``medallion report``: what analysts will see in gold after a local run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from medallion.local.query import rich_table
from medallion.local.report import headlines


def report(
    lake: Annotated[
        Path, typer.Option(help="The local lake directory.", envvar="MEDALLION_LAKE")
    ] = Path("lake"),
) -> None:
    """Print the headline gold figures through the analysts' views: what analysts will see."""
    console = Console()
    if not lake.is_dir():
        Console(stderr=True).print(f"[red]error:[/red] no lake at {escape(str(lake))}")
        raise typer.Exit(1)
    console.rule("[bold]What analysts will see")
    for headline in headlines(str(lake)):
        if headline.frame is None:
            reason = escape(str(headline.error))
            console.print(f"[bold]{headline.title}[/bold]\n  [dim]not available: {reason}[/dim]")
        else:
            console.print(rich_table(headline.frame, title=headline.title))
        console.print()
    where = escape(str(lake))
    console.print(
        f'[dim]More: medallion query --lake {where} "select * from v_run_ledger"'
        f" · medallion dashboard --lake {where}[/dim]"
    )


def register(app: typer.Typer) -> None:
    """Add ``medallion report`` to the CLI."""
    app.command(name="report")(report)
