"""``medallion generate``: write sample landing data with known defects."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.table import Table

from jobs.common.contracts import default_contracts_dir
from medallion.cli.output import console as make_console
from medallion.sample import DEFAULT_SCHEMA

if TYPE_CHECKING:
    from medallion.sample.generate import Manifest
    from medallion.sample.postgres import LoadedTable

# Small runs finish before a bar would be worth drawing.
PROGRESS_FROM_LINES = 100_000


# The database path's options (with --postgres), named here to keep the command short.
Postgres = Annotated[
    str,
    typer.Option(
        "--postgres",
        help="Also load the datasets into this PostgreSQL database "
        "(postgresql://user:password@host:port/dbname), as tables of --schema, and write "
        "contracts that read them to --database-contracts.",
        envvar="MEDALLION_GENERATE_POSTGRES",
    ),
]
Schema = Annotated[
    str, typer.Option("--schema", help="Database schema of the tables (with --postgres).")
]
DatabaseContracts = Annotated[
    Path,
    typer.Option(
        "--database-contracts",
        help="Where --postgres writes the contracts that read the tables "
        "(give it to medallion run --contracts).",
    ),
]


def generate_command(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Landing directory to write into.", envvar="MEDALLION_SAMPLE_DIR"
        ),
    ] = Path("sample/landing"),
    order_lines: Annotated[
        int,
        typer.Option(
            "--order-lines",
            min=1,
            max=10_000_000,
            help="Order lines to generate; the rest scales.",
            envvar="MEDALLION_ORDER_LINES",
        ),
    ] = 50_000,
    seed: Annotated[
        int,
        typer.Option("--seed", help="Random seed: same seed, same bytes.", envvar="MEDALLION_SEED"),
    ] = 42,
    clean: Annotated[bool, typer.Option("--clean", help="Inject no defects.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
    postgres: Postgres = "",
    schema: Schema = DEFAULT_SCHEMA,
    database_contracts: DatabaseContracts = Path("sample/database-contracts"),
) -> None:
    """Write the five source datasets (the UCI Online Retail layout and its neighbours) with
    defects injected at known counts, and a manifest of what silver should report; with
    --postgres, load them into a database too, for the database path."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from medallion.sample.generate import MANIFEST_NAME, generate

    console = make_console()
    started = time.perf_counter()
    if quiet or order_lines < PROGRESS_FROM_LINES:
        manifest = generate(out, order_lines, seed, defects=not clean)
    else:
        with Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("generating", total=1.0)
            manifest = generate(
                out,
                order_lines,
                seed,
                defects=not clean,
                progress=lambda stage, done: bar.update(task, completed=done, description=stage),
            )
    if not quiet:
        console.print(_summary(manifest))
        seconds = time.perf_counter() - started
        console.print(f"Wrote {out} in {seconds:.1f} s", highlight=False, soft_wrap=True)
        console.print(f"Manifest: {out / MANIFEST_NAME}", highlight=False, soft_wrap=True)
    if postgres:
        _load(postgres, out, schema, database_contracts, quiet)


def _load(url: str, out: Path, schema: str, contracts: Path, quiet: bool) -> None:
    """Load the landing files into the database and write the contracts that read them."""
    from medallion.sample.postgres import load_postgres, write_database_contracts

    try:
        loaded = load_postgres(url, out, schema)
    except Exception as exc:  # psycopg's errors: one line, the URL's password left out
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = urlsplit(url).password
        if password:
            message = message.replace(password, "***")
        raise typer.BadParameter(f"cannot load into the database: {message}") from None
    written = write_database_contracts(default_contracts_dir(), contracts, schema)
    if quiet:
        return
    console = make_console()
    console.print(_loaded_table(loaded, _redacted(url)))
    console.print(f"Contracts: {contracts} ({len(written)} files)", highlight=False, soft_wrap=True)
    console.print(
        f"Run: MEDALLION_DB_URL=... medallion run --contracts {contracts}",
        highlight=False,
        soft_wrap=True,
    )


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _loaded_table(loaded: dict[str, LoadedTable], where: str) -> Table:
    table = Table(title=f"Loaded into {where}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("lines not loadable", justify="right")
    for entry in loaded.values():
        table.add_row(entry.table, f"{entry.rows:,}", f"{entry.not_loaded:,}")
    return table


def _summary(manifest: Manifest) -> Table:
    table = Table(title=f"Sample data (seed {manifest.seed}): what silver should report")
    table.add_column("dataset")
    for column in ("rows in", "silver", "duplicates", "quarantined", "flagged"):
        table.add_column(column, justify="right")
    for name, e in manifest.expected.items():
        table.add_row(
            name,
            f"{e.rows_in:,}",
            f"{e.rows_silver:,}",
            f"{e.duplicates:,}",
            f"{e.quarantined:,}",
            f"{e.flagged:,}",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the CLI."""
    app.command("generate")(generate_command)
