"""``medallion dashboard``: the analysts' Streamlit app over the local lake, on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
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
    raise typer.Exit(serve(streamlit_command(lake, port)))


def serve(command: list[str]) -> int:
    """Run the server until it ends; SIGTERM or SIGINT to this process is passed on to it and
    waited for, so that stopping the command never leaves it listening. Returns its exit code
    (0 when stopped by a signal)."""
    child = subprocess.Popen(command)
    stopped: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopped.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:  # this process is ending otherwise: never leave the server
            child.terminate()
            child.wait()
    return 0 if stopped else code


def register(app: typer.Typer) -> None:
    """Add ``medallion dashboard`` to the CLI."""
    app.command(name="dashboard")(dashboard)
