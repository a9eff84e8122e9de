"""Run analysts' Athena SQL locally (the DuckDB catalog) or on Athena, and write the result out."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from medallion.local import catalog
from medallion.local.catalog import QueryError

FORMATS = ("table", "csv", "json", "parquet")
PRICE_PER_TB_USD = 5.0
TB = 1024**4
# Athena bills at least 10 MB per query, rounded up to the next megabyte.
MIN_BILLED_BYTES = 10 * 1024**2
MISSING_VIEW = re.compile(r"with name v_\w+ does not exist")
ATHENA_POSITION = re.compile(r"line (\d+):(\d+):\s*(.*)", re.DOTALL)


@dataclass(frozen=True)
class QueryResult:
    """A query's rows and where they came from; on Athena, the bytes it scanned."""

    frame: pd.DataFrame
    engine: str
    bytes_scanned: int | None = None
    query_id: str | None = None

    @property
    def cost_usd(self) -> float | None:
        """What Athena charges for the scan: $5 per TB, at least 10 MB, whole megabytes."""
        if self.bytes_scanned is None:
            return None
        billed = max(self.bytes_scanned, MIN_BILLED_BYTES)
        billed = math.ceil(billed / 1024**2) * 1024**2
        return billed / TB * PRICE_PER_TB_USD


def run_local(sql: str, lake_root: str, database: str = "gold") -> QueryResult:
    """Run Athena SQL on the lake's local catalog.

    Parameters
    ----------
    sql
        Athena (Trino) SQL.
    lake_root
        The lake directory.
    database
        The database unqualified table names resolve in.

    Returns
    -------
    QueryResult
        The rows, engine ``local``.

    Raises
    ------
    QueryError
        One line with the position in the SQL.
    """
    if not Path(catalog.lake_path(lake_root)).is_dir():
        raise QueryError(f"no lake at {lake_root}: run `medallion run` first or pass --lake")
    try:
        return QueryResult(catalog.execute(lake_root, sql, database=database), "local")
    except QueryError as err:
        # A run stopped before its last step leaves the tables without the views: create them.
        if not MISSING_VIEW.search(err.message) or not catalog.create_views(
            lake_root, strict=False
        ):
            raise
    return QueryResult(catalog.execute(lake_root, sql, database=database), "local")


@contextmanager
def _endpoint(endpoint_url: str | None) -> Iterator[None]:
    """Point awswrangler's Athena, S3 and Glue clients at another endpoint (moto) for a while."""
    import awswrangler as wr

    names = ("athena_endpoint_url", "s3_endpoint_url", "glue_endpoint_url", "sts_endpoint_url")
    saved = {n: getattr(wr.config, n) for n in names}
    try:
        if endpoint_url:
            for n in names:
                setattr(wr.config, n, endpoint_url)
        yield
    finally:
        for n, value in saved.items():
            setattr(wr.config, n, value)


def athena_error(message: str) -> QueryError:
    """A QueryError from an Athena failure reason, keeping Trino's ``line L:C:`` position."""
    match = ATHENA_POSITION.search(message)
    if match:
        return QueryError(match.group(3), int(match.group(1)), int(match.group(2)))
    return QueryError(message)


def stack_settings(
    env: str, region: str | None = None, endpoint_url: str | None = None
) -> tuple[str, str]:
    """The analysts' workgroup and the gold database of an environment's deployed stack.

    Parameters
    ----------
    env
        The environment (stack ``medallion-<env>``).
    region, endpoint_url
        Where the stack is.

    Returns
    -------
    tuple[str, str]
        The ``AthenaWorkGroupName`` and ``GoldDatabaseName`` outputs.

    Raises
    ------
    QueryError
        No such stack, or one without those outputs.
    """
    from medallion.aws import AwsError
    from medallion.aws.stack import stack_outputs

    try:
        outputs = stack_outputs(env, endpoint_url=endpoint_url, region=region)
    except AwsError as err:
        raise QueryError(f"cannot read the stack of environment {env!r}: {err}") from None
    missing = [k for k in ("AthenaWorkGroupName", "GoldDatabaseName") if not outputs.get(k)]
    if missing:
        raise QueryError(f"the stack of environment {env!r} has no output {', '.join(missing)}")
    return outputs["AthenaWorkGroupName"], outputs["GoldDatabaseName"]


def run_athena(
    sql: str,
    workgroup: str,
    database: str,
    region: str | None = None,
    endpoint_url: str | None = None,
    s3_output: str | None = None,
    boto3_session: Any | None = None,
) -> QueryResult:
    """Run SQL on Athena in a workgroup through ``awswrangler.athena.read_sql_query``.

    Parameters
    ----------
    sql
        Athena SQL.
    workgroup
        The stack's analysts' workgroup (its enforced result location is used).
    database
        The Glue database for unqualified names (the stack's gold database).
    region
        AWS region; the default chain when None.
    endpoint_url
        Another endpoint for Athena, S3 and Glue (moto in tests).
    s3_output
        A result location, for workgroups that do not enforce one.
    boto3_session
        A boto3 session; one is made for ``region`` when None.

    Returns
    -------
    QueryResult
        The rows, engine ``athena``, with the bytes scanned and the query execution id.

    Raises
    ------
    QueryError
        The query failed (with Athena's line and column), or AWS refused the call.
    """
    import awswrangler as wr
    import boto3
    import botocore.exceptions

    session = boto3_session or boto3.Session(region_name=region)
    try:
        with _endpoint(endpoint_url):
            # No CTAS or UNLOAD: those need write access to the database, analysts have none.
            frame = wr.athena.read_sql_query(
                sql,
                database=database,
                workgroup=workgroup,
                s3_output=s3_output,
                ctas_approach=False,
                unload_approach=False,
                boto3_session=session,
            )
    except wr.exceptions.QueryFailed as err:
        raise athena_error(str(err)) from None
    except botocore.exceptions.NoCredentialsError:
        raise QueryError(
            "no AWS credentials found (set AWS_PROFILE or run `aws configure`)"
        ) from None
    except botocore.exceptions.ClientError as err:
        error = err.response.get("Error", {})
        raise athena_error(
            f"{error.get('Code', 'ClientError')}: {error.get('Message', err)}"
        ) from None
    except botocore.exceptions.BotoCoreError as err:
        raise QueryError(str(err)) from None
    except (KeyError, TypeError, ValueError) as err:
        # awswrangler reads responses by key: an endpoint answering oddly (a missing workgroup
        # on moto) surfaces as a KeyError, which the analyst should see as one line too.
        raise QueryError(f"unexpected Athena response ({type(err).__name__}: {err})") from None
    metadata = getattr(frame, "query_metadata", None) or {}
    stats = metadata.get("Statistics", {})
    scanned = stats.get("DataScannedInBytes")
    return QueryResult(
        frame,
        "athena",
        int(scanned) if scanned is not None else 0,
        metadata.get("QueryExecutionId"),
    )


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
    return (
        f"{rows} · Athena query {result.query_id} scanned {_human_bytes(result.bytes_scanned)} "
        f"({result.bytes_scanned:,} bytes) · cost ${result.cost_usd:.6f} at $5/TB"
    )


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.2f} TB"


def rich_table(frame: pd.DataFrame, title: str | None = None, max_rows: int = 100) -> Any:
    """The rows as a rich Table (numbers right-aligned, NULL dimmed), at most ``max_rows``."""
    from rich.table import Table

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
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "[dim]NULL[/dim]"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1e15 else str(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return str(value).replace("[", r"\[")
