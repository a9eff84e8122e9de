"""``medallion query``: run Athena SQL on the local catalog or, with --aws, on Athena."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from medallion.cli import options
from medallion.cli.errors import ExitCode, exit_with, handled
from medallion.cli.output import FORMATS, console, describe_scan, write_result

Sql = Annotated[
    str | None,
    typer.Argument(
        help="Athena (Trino) SQL, e.g. 'select * from v_run_ledger' (or use --file).",
        show_default=False,
    ),
]
SqlFile = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="Read the SQL from this file ('-' for stdin): a .sql file that starts with a "
        "-- comment, as sql/ does.",
        show_default=False,
    ),
]
Aws = Annotated[bool, typer.Option("--aws", help="Run on Athena instead of locally.")]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"Output format: {', '.join(FORMATS)} [default: from the --output file's "
        "extension (.csv, .json, .parquet), else table].",
        show_default=False,
    ),
]
Output = Annotated[
    Path | None, typer.Option(help="Write the result to this file instead of stdout.")
]
Database = Annotated[
    str | None,
    typer.Option(
        help="Database for unqualified names [default: gold, or the stack's gold database].",
        envvar="MEDALLION_DATABASE",
    ),
]
Workgroup = Annotated[
    str | None,
    typer.Option(
        help="Athena workgroup (the stack's analysts' workgroup).", envvar="MEDALLION_WORKGROUP"
    ),
]
S3Output = Annotated[
    str | None,
    typer.Option(
        help="Athena result location, if the workgroup sets none.",
        envvar="MEDALLION_ATHENA_OUTPUT",
    ),
]


def query(
    sql: Sql = None,
    sql_file: SqlFile = None,
    lake: options.Lake = Path("lake"),
    aws: Aws = False,
    fmt: Format = None,
    output: Output = None,
    database: Database = None,
    env: options.OptionalEnv = None,
    workgroup: Workgroup = None,
    region: options.Region = None,
    endpoint_url: options.EndpointUrl = None,
    s3_output: S3Output = None,
) -> None:
    """Run Athena SQL (the argument, or --file): locally on the lake's DuckDB catalog, or on
    Athena with --aws (its workgroup and database from --workgroup/--database or from the stack
    of --env)."""
    from medallion.aws import athena
    from medallion.local.query import run_local

    fmt = output_format(fmt, output)
    sql = sql_text(sql, sql_file)
    if aws and not workgroup and not env:
        raise exit_with(ExitCode.USAGE, "--aws needs --workgroup (or MEDALLION_WORKGROUP) or --env")
    if not aws and not lake.is_dir():
        raise exit_with(
            ExitCode.USAGE, f"no lake at {lake}: run `medallion run` first or pass --lake"
        )
    with handled():
        if aws:
            where = athena.Workgroup(workgroup, database, env, region, endpoint_url, s3_output)
            result = athena.query(sql, where)
        else:
            result = run_local(sql, str(lake), database or "gold")
    write_result(result, fmt, output)
    console(stderr=True).print(describe_scan(result), highlight=False)


def sql_text(sql: str | None, sql_file: Path | None) -> str:
    """The SQL given as the argument or read from ``--file`` (exactly one of the two)."""
    if sql is None and sql_file is None:
        raise exit_with(ExitCode.USAGE, "no SQL: give it as an argument or with --file FILE")
    if sql is not None and sql_file is not None:
        raise exit_with(ExitCode.USAGE, "give the SQL as an argument or with --file, not both")
    if sql_file is None:
        return str(sql)
    if str(sql_file) == "-":
        return sys.stdin.read()
    try:
        return sql_file.read_text(encoding="utf-8")
    except OSError as err:
        raise exit_with(
            ExitCode.USAGE, f"cannot read --file {sql_file}: {err.strerror or err}"
        ) from None


def output_format(fmt: str | None, output: Path | None) -> str:
    """The format asked for, else the one the output file's extension names (``seg.csv`` is
    csv), else a table; a format that cannot be written is a usage error."""
    suffix = output.suffix.lower().lstrip(".") if output is not None else ""
    fmt = fmt or (suffix if suffix in FORMATS and suffix != "table" else "table")
    if fmt not in FORMATS:
        raise exit_with(
            ExitCode.USAGE, f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}"
        )
    if fmt == "parquet" and output is None:
        raise exit_with(ExitCode.USAGE, "--format parquet needs --output FILE")
    return fmt


def register(app: typer.Typer) -> None:
    """Add ``medallion query`` to the CLI."""
    app.command(name="query")(query)
