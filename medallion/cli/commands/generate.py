"""``medallion generate``: write sample landing data with known defects."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from medallion.cli.output import console as make_console
from medallion.sample.generate import MANIFEST_NAME, Manifest, generate

# Small runs finish before a bar would be worth drawing.
PROGRESS_FROM_LINES = 100_000


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
) -> None:
    """Write the five source datasets (the UCI Online Retail layout and its neighbours) with
    defects injected at known counts, and a manifest of what silver should report."""
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
