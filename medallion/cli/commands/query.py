"""``medallion query``: run Athena SQL on the local catalog or, with --aws, on Athena."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from medallion.local.catalog import QueryError
from medallion.local.query import (
    FORMATS,
    describe_scan,
    render,
    rich_table,
    run_athena,
    run_local,
    stack_settings,
)


def query(
    sql: Annotated[
        str, typer.Argument(help="Athena (Trino) SQL, e.g. 'select * from v_run_ledger'.")
    ],
    lake: Annotated[
        Path, typer.Option(help="The local lake directory.", envvar="MEDALLION_LAKE")
    ] = Path("lake"),
    aws: Annotated[bool, typer.Option("--aws", help="Run on Athena instead of locally.")] = False,
    fmt: Annotated[
        str, typer.Option("--format", help=f"Output format: {', '.join(FORMATS)}.")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option(help="Write the result to this file instead of stdout.")
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(
            help="Database for unqualified names [default: gold, or the stack's gold database].",
            envvar="MEDALLION_DATABASE",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            help="With --aws: read the workgroup and database from the stack medallion-<env>.",
            envvar="MEDALLION_ENV",
        ),
    ] = None,
    workgroup: Annotated[
        str | None,
        typer.Option(
            help="Athena workgroup (the stack's analysts' workgroup).", envvar="MEDALLION_WORKGROUP"
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="AWS region.", envvar=["MEDALLION_REGION", "AWS_REGION"])
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(help="Another AWS endpoint (e.g. moto).", envvar="MEDALLION_ENDPOINT_URL"),
    ] = None,
    s3_output: Annotated[
        str | None,
        typer.Option(
            help="Athena result location, if the workgroup sets none.",
            envvar="MEDALLION_ATHENA_OUTPUT",
        ),
    ] = None,
) -> None:
    """Run Athena SQL: locally on the lake's DuckDB catalog, or on Athena with --aws."""
    err = Console(stderr=True)
    if fmt not in FORMATS:
        err.print(f"[red]error:[/red] --format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        raise typer.Exit(1)
    if fmt == "parquet" and output is None:
        err.print("[red]error:[/red] --format parquet needs --output FILE")
        raise typer.Exit(1)
    if aws and not workgroup and not env:
        err.print("[red]error:[/red] --aws needs --workgroup (or MEDALLION_WORKGROUP) or --env")
        raise typer.Exit(1)
    try:
        if aws:
            if env and not (workgroup and database):
                from_stack = stack_settings(env, region, endpoint_url)
                workgroup, database = workgroup or from_stack[0], database or from_stack[1]
            result = run_athena(
                sql, str(workgroup), database or "gold", region, endpoint_url, s3_output
            )
        else:
            result = run_local(sql, str(lake), database or "gold")
    except QueryError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if fmt == "table":
        table = rich_table(result.frame)
        if output is None:
            Console().print(table)
        else:
            with open(output, "w", encoding="utf-8") as fh:
                Console(file=fh, width=200).print(table)
    elif output is None:
        typer.echo(render(result.frame, fmt).decode("utf-8"), nl=False)
    else:
        output.write_bytes(render(result.frame, fmt))
    err.print(describe_scan(result), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``medallion query`` to the CLI."""
    app.command(name="query")(query)
