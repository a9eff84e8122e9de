"""What the commands print: a console that keeps lines whole when piped, result tables, formats."""

from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # imported where rows are shown: every command imports this module
    import pandas as pd

    from medallion.aws.athena import QueryResult

FORMATS = ("table", "csv", "json", "parquet")
# Wide enough for any table a command prints: rich measures a table to what it needs, so this
# only stops it from being squeezed (and names cut to "custo…") when stdout is no terminal.
PIPED_WIDTH = 10_000


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr); when that is not a terminal and COLUMNS is not set, lines
    and tables are printed whole instead of cut or wrapped at 80 columns."""
    made = Console(stderr=stderr)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made.width = PIPED_WIDTH
    return made


def heading(out: Console, title: str) -> None:
    """A section title: a rule across a terminal, a bold line when piped."""
    if out.is_terminal:
        out.rule(f"[bold]{title}")
    else:
        out.print(f"[bold]{title}[/bold]")


def write_result(result: QueryResult, fmt: str, output: Path | None) -> None:
    """A query's rows in a format, to stdout or to a file."""
    if fmt == "table":
        table = rich_table(result.frame)
        if output is None:
            console().print(table)
        else:
            with open(output, "w", encoding="utf-8") as fh:
                Console(file=fh, width=200).print(table)
    elif output is None:
        typer.echo(render(result.frame, fmt).decode("utf-8"), nl=False)
    else:
        output.write_bytes(render(result.frame, fmt))


def render(frame: pd.DataFrame, fmt: str) -> bytes:
    """The rows as CSV, JSON (an array of records) or Parquet bytes.

    Parameters
    ----------
    frame
        The rows.
    fmt
        ``csv``, ``json`` or ``parquet``.

    Returns
    -------
    bytes
        The encoded rows.
    """
    if fmt == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    if fmt == "json":
        records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return (json.dumps(records, indent=2, default=_json_value) + "\n").encode("utf-8")
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def _json_value(value: Any) -> Any:
    """JSON for what json cannot encode: dates as ISO strings, numpy values as lists and numbers."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def describe_scan(result: QueryResult) -> str:
    """One line on the engine and, on Athena, the bytes scanned and their cost."""
    rows = f"{len(result.frame)} row{'s' if len(result.frame) != 1 else ''}"
    if result.engine != "athena" or result.bytes_scanned is None:
        return f"{rows} (local DuckDB catalog)"
    from medallion.aws.athena import human_bytes  # only a query that ran on Athena has a scan

    return (
        f"{rows} · Athena query {result.query_id} scanned {human_bytes(result.bytes_scanned)} "
        f"({result.bytes_scanned:,} bytes) · cost ${result.cost_usd:.6f} at $5/TB"
    )


def rich_table(frame: pd.DataFrame, title: str | None = None, max_rows: int = 100) -> Table:
    """The rows as a rich Table (numbers right-aligned, NULL dimmed), at most ``max_rows``."""
    import pandas as pd

    table = Table(title=title, title_justify="left", header_style="bold")
    for name, dtype in frame.dtypes.items():
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        # fold, never truncate: a cut-off figure reads as a different number
        table.add_column(str(name), justify="right" if numeric else "left", overflow="fold")
    for row in frame.head(max_rows).itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    if len(frame) > max_rows:
        table.caption = f"first {max_rows} of {len(frame)} rows"
    return table


def _cell(value: Any) -> str:
    import pandas as pd

    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "[dim]NULL[/dim]"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else str(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value).replace("[", r"\[")
