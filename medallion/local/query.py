"""Analysts' Athena SQL on the local lake, through the DuckDB catalog."""

from __future__ import annotations

import re
from pathlib import Path

from medallion.aws.athena import QueryError, QueryResult
from medallion.local import catalog

MISSING_VIEW = re.compile(r"with name v_\w+ does not exist")


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
