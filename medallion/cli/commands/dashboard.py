"""``medallion dashboard``: the analysts' Streamlit app over the local lake, on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with

APP = Path(__file__).resolve().parents[3] / "dashboard" / "app.py"


def streamlit_command(lake: Path, port: int) -> list[str]:
    """The command that serves the dashboard for a lake on 127.0.0.1:port (and only there).

    Parameters
    ----------
    lake
        The lake directory.
    port
        The port to listen on.

    Returns
    -------
    list[str]
        The argv of ``python -m streamlit run``.
    """
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        "--", "--lake", str(lake.resolve()),
    ]  # fmt: skip


def dashboard(
    lake: options.Lake = Path("lake"),
    port: Annotated[
        int, typer.Option(help="Port on 127.0.0.1.", envvar="MEDALLION_DASHBOARD_PORT")
    ] = 8501,
) -> None:
    """Serve the analysts' dashboard (revenue, products, segments, cohorts, inventory, quality)."""
    if not lake.is_dir():
        raise exit_with(
            ExitCode.USAGE, f"no lake at {lake}: run `medallion run` first or pass --lake"
        )
    typer.echo(f"dashboard on http://127.0.0.1:{port}/ for {lake.resolve()} (Ctrl-C stops it)")
    try:
        raise typer.Exit(subprocess.call(streamlit_command(lake, port)))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    """Add ``medallion dashboard`` to the CLI."""
    app.command(name="dashboard")(dashboard)
