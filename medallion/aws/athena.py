"""Athena SQL: queries on Athena through awswrangler, and the error and result every query gives.

The local DuckDB catalog stands in for Athena, so it raises the same ``QueryError`` and returns
the same ``QueryResult``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions

from medallion.aws import AwsError
from medallion.aws.stack import stack_outputs

if TYPE_CHECKING:  # every command imports this module's errors; pandas (0.3 s) only for queries
    import pandas as pd

PRICE_PER_TB_USD = 5.0
TB = 1024**4
# Athena bills at least 10 MB per query, rounded up to the next megabyte.
MIN_BILLED_BYTES = 10 * 1024**2
ATHENA_POSITION = re.compile(r"line (\d+):(\d+):\s*(.*)", re.DOTALL)


class QueryError(Exception):
    """A query that could not be parsed or run; ``str()`` is one line, ``line L:C: message``."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        self.message = " ".join(message.split())
        self.line = line
        self.column = column
        super().__init__(f"line {line}:{column}: {self.message}")


class AthenaAccessError(QueryError, AwsError):
    """Athena could not be reached: no credentials, or no usable endpoint."""


class StackSettingsError(AwsError):
    """The environment's stack cannot say which workgroup and database to query."""


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


@contextmanager
def _endpoint(endpoint_url: str | None) -> Iterator[None]:
    """Point awswrangler's Athena, S3 and Glue clients at another endpoint (moto) for a while."""
    import awswrangler as wr  # lazy: awswrangler takes most of a second to import

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


def human_bytes(n: int) -> str:
    """A byte count as people read it (``12.3 MB``): how the CLI and the dashboard show a scan."""
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.2f} TB"


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
    try:
        outputs = stack_outputs(env, endpoint_url=endpoint_url, region=region)
    except AwsError as err:
        raise StackSettingsError(f"cannot read the stack of environment {env!r}: {err}") from None
    missing = [k for k in ("AthenaWorkGroupName", "GoldDatabaseName") if not outputs.get(k)]
    if missing:
        raise StackSettingsError(
            f"the stack of environment {env!r} has no output {', '.join(missing)}"
        )
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
    import awswrangler as wr  # lazy: awswrangler takes most of a second to import

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
        raise AthenaAccessError(
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


@dataclass(frozen=True)
class Workgroup:
    """Where an analyst's query runs on Athena: given outright, or read from an env's stack."""

    name: str | None = None
    database: str | None = None
    env: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    s3_output: str | None = None


def query(sql: str, where: Workgroup) -> QueryResult:
    """Run SQL on Athena in the workgroup and database given, else those of the env's stack.

    Parameters
    ----------
    sql
        Athena SQL.
    where
        The workgroup and database, or the environment whose stack outputs name them.

    Returns
    -------
    QueryResult
        The rows, engine ``athena``.

    Raises
    ------
    QueryError
        The query failed; ``AthenaAccessError`` or ``StackSettingsError`` (both ``AwsError``)
        when Athena or the stack could not be reached.
    """
    workgroup, database = where.name, where.database
    if where.env and not (workgroup and database):
        from_stack = stack_settings(where.env, where.region, where.endpoint_url)
        workgroup, database = workgroup or from_stack[0], database or from_stack[1]
    return run_athena(
        sql, str(workgroup), database or "gold", where.region, where.endpoint_url, where.s3_output
    )
