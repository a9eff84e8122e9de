"""``medallion dashboard``: the analysts' Streamlit app over the local lake or, with --aws, over
gold on Athena; on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, handled

if TYPE_CHECKING:
    from medallion.aws import athena

APP = Path(__file__).resolve().parents[3] / "dashboard" / "app.py"
LOCALHOST = "127.0.0.1"


def streamlit_command(
    lake: Path | None,
    port: int,
    address: str = LOCALHOST,
    where: athena.Workgroup | None = None,
) -> list[str]:
    """The command that serves the dashboard on address:port (127.0.0.1 by default).

    Parameters
    ----------
    lake
        The lake directory (read when ``where`` is None).
    port
        The port to listen on.
    address
        The address to bind.
    where
        Athena's workgroup and database (resolved), to read gold there instead of a lake.

    Returns
    -------
    list[str]
        The argv of ``python -m streamlit run``.
    """
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
        "--",
    ]  # fmt: skip
    if where is None:
        return [*command, "--lake", str((lake or Path("lake")).resolve())]
    command += ["--aws", "--workgroup", str(where.name), "--database", str(where.database)]
    for flag, value in (
        ("--region", where.region),
        ("--endpoint-url", where.endpoint_url),
        ("--s3-output", where.s3_output),
    ):
        if value:
            command += [flag, value]
    return command


def athena_source(
    env: str | None,
    workgroup: str | None,
    database: str | None,
    region: str | None,
    endpoint_url: str | None,
    s3_output: str | None,
) -> athena.Workgroup:
    """The workgroup and database the pages query, read once from the env's stack if not given
    (so a stack that cannot be read is one line here, not an error on every page)."""
    from medallion.aws import athena

    if env and not (workgroup and database):
        found = athena.stack_settings(env, region, endpoint_url)
        workgroup, database = workgroup or found[0], database or found[1]
    return athena.Workgroup(workgroup, database or "gold", env, region, endpoint_url, s3_output)


def dashboard(
    lake: options.Lake = Path("lake"),
    port: Annotated[
        int, typer.Option(help="Port to listen on.", envvar="MEDALLION_DASHBOARD_PORT")
    ] = 8501,
    address: Annotated[
        str,
        typer.Option(
            help="Address to bind: 127.0.0.1 keeps the dashboard on this machine.",
            envvar="MEDALLION_DASHBOARD_ADDRESS",
        ),
    ] = LOCALHOST,
    aws: Annotated[
        bool, typer.Option("--aws", help="Read gold through Athena instead of a local lake.")
    ] = False,
    env: options.OptionalEnv = None,
    workgroup: Annotated[
        str | None,
        typer.Option(
            help="Athena workgroup (the stack's analysts' workgroup).", envvar="MEDALLION_WORKGROUP"
        ),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(help="Gold database on Athena.", envvar="MEDALLION_DATABASE"),
    ] = None,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
    s3_output: Annotated[
        str | None,
        typer.Option(
            help="Athena result location, if the workgroup sets none.",
            envvar="MEDALLION_ATHENA_OUTPUT",
        ),
    ] = None,
) -> None:
    """Serve the analysts' dashboard (revenue, products, segments, cohorts, inventory, quality,
    customer value): over the local lake, or with --aws over gold on Athena in the analysts'
    workgroup of --env's stack (answers cached, each page showing what it scanned and cost)."""
    where = None
    if aws:
        if not workgroup and not env:
            raise exit_with(
                ExitCode.USAGE, "--aws needs --workgroup (or MEDALLION_WORKGROUP) or --env"
            )
        with handled():
            where = athena_source(env, workgroup, database, region, endpoint_url, s3_output)
        shown = f"Athena database {where.database} (workgroup {where.name})"
    elif not lake.is_dir():
        raise exit_with(
            ExitCode.USAGE, f"no lake at {lake}: run `medallion run` first or pass --lake"
        )
    else:
        shown = str(lake.resolve())
    typer.echo(f"dashboard on http://{address}:{port}/ for {shown} (Ctrl-C stops it)")
    raise typer.Exit(serve(streamlit_command(lake, port, address, where)))


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
