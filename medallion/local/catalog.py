"""The local catalog: a DuckDB file in the lake mirroring the Glue databases, queried in Athena SQL.

Schemas ``bronze``, ``silver`` and ``gold`` hold one view per dataset or mart directory, reading the
Parquet files the jobs wrote (hive partitioning, partition values as strings, as a Glue crawler
types them). The quality records (JSON Lines) are tables of the ``gold`` schema, ``quality_results``
and ``quality_runs``, because on AWS they live in the gold Glue database too: analysts may read gold
and nothing below it, and the views reference every table the same way in both places (see
docs/analysts.md). The ``quality`` schema exists for symmetry and stays empty.

Every use opens a short-lived connection under a file lock (shared for reads, exclusive for writes)
so that the pipeline, ``medallion query`` and the dashboard can share the file across processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types

from jobs.common import records
from medallion.aws.athena import QueryError
from medallion.local import dialects, rewrites
from medallion.spec.views import view_statements

if TYPE_CHECKING:  # imported where rows are returned: a run starts before it needs pandas
    import pandas as pd

LAYERS = ("bronze", "silver", "gold", "quality")
SCHEMAS = ("bronze", "silver", "gold", "quality")
CATALOG_DIR = "_catalog"
CATALOG_FILE = "catalog.duckdb"
TABLE_COMMENT = "medallion:{layer}"


@dataclass(frozen=True)
class Column:
    """A column as the Glue catalog would type it (``string``, ``decimal(18,2)``, ...)."""

    name: str
    type: str


@dataclass(frozen=True)
class TableInfo:
    """A registered table: where it reads from, its columns, partition keys and values."""

    database: str
    name: str
    location: str
    format: str
    columns: list[Column] = field(default_factory=list)
    partition_keys: list[str] = field(default_factory=list)
    partitions: list[dict[str, str]] = field(default_factory=list)

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"


def lake_path(lake_root: str) -> Path:
    """The lake as a local directory; the local catalog cannot read ``s3://`` lakes."""
    root = lake_root.removeprefix("file://").removeprefix("file:")
    if "://" in root:
        raise QueryError(f"the local catalog needs a local lake directory, not {lake_root}")
    return Path(os.path.abspath(os.path.expanduser(root)))


def catalog_path(lake_root: str) -> Path:
    """Where the catalog file of a lake is: ``<lake>/_catalog/catalog.duckdb``."""
    return lake_path(lake_root) / CATALOG_DIR / CATALOG_FILE


@contextmanager
def connect(lake_root: str, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the lake's catalog, held under the catalog's file lock.

    Parameters
    ----------
    lake_root
        The lake directory.
    write
        True for an exclusive, read-write connection (creates the file and its schemas); False for a
        shared, read-only one.
    """
    path = catalog_path(lake_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+") as lock:
        # DuckDB allows one writing process or many reading ones; the lock makes others wait
        # instead of failing with "Could not set lock on file".
        fcntl.flock(lock, fcntl.LOCK_EX if write or not path.exists() else fcntl.LOCK_SH)
        try:
            if write or not path.exists():
                con = duckdb.connect(str(path))
                for schema in SCHEMAS:
                    con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            else:
                con = duckdb.connect(str(path), read_only=True)
            try:
                yield con
            finally:
                con.close()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- registering tables ---------------------------------------------------------------------------


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _visible(parts: tuple[str, ...]) -> bool:
    # Spark's _temporary and .spark-staging directories, _SUCCESS and .crc files are not data,
    # and Athena skips names starting with _ or . as well.
    return not any(p.startswith(("_", ".")) for p in parts)


def _partition_layout(
    table_dir: Path, suffix: str
) -> tuple[list[str], list[dict[str, str]], set[int]]:
    """Partition keys, the distinct partition values, and the directory depths holding data."""
    keys: list[str] = []
    partitions: dict[tuple[tuple[str, str], ...], None] = {}
    depths: set[int] = set()
    for file in sorted(table_dir.rglob(f"*{suffix}")):
        parts = file.relative_to(table_dir).parts
        if not _visible(parts) or not all("=" in p for p in parts[:-1]):
            continue
        pairs = tuple(tuple(p.split("=", 1)) for p in parts[:-1])
        depths.add(len(pairs))
        if not keys:
            keys = [k for k, _ in pairs]
        partitions[pairs] = None  # type: ignore[index]
    return keys, [dict(p) for p in partitions if p], depths


def _globs(table_dir: Path, depths: set[int], suffix: str) -> str:
    patterns = [str(table_dir / Path(*(["*=*"] * d), f"*{suffix}")) for d in sorted(depths)]
    return "[" + ", ".join(_quote(p) for p in patterns) + "]"


def glue_type(duckdb_type: str) -> str:
    """The Glue/Hive type name of a DuckDB type (``VARCHAR[]`` is ``array<string>``)."""
    t = duckdb_type.strip().upper()
    if t.endswith("[]"):
        return f"array<{glue_type(t[:-2])}>"
    if t.startswith("DECIMAL"):
        return t.lower().replace(" ", "")
    if t.startswith("STRUCT("):
        inner = t[len("STRUCT(") : -1]
        fields = [f.strip().split(" ", 1) for f in re.split(r",\s*(?![^()]*\))", inner)]
        return (
            "struct<"
            + ",".join(f"{n.strip(chr(34)).lower()}:{glue_type(v)}" for n, v in fields)
            + ">"
        )
    simple = {
        "VARCHAR": "string",
        "BIGINT": "bigint",
        "INTEGER": "int",
        "SMALLINT": "smallint",
        "TINYINT": "tinyint",
        "DOUBLE": "double",
        "FLOAT": "float",
        "BOOLEAN": "boolean",
        "DATE": "date",
        "BLOB": "binary",
        "HUGEINT": "decimal(38,0)",
        "UBIGINT": "decimal(20,0)",
        "UINTEGER": "bigint",
    }
    if t.startswith("TIMESTAMP"):
        return "timestamp"
    return simple.get(t, "string")


def _create_table_view(
    con: duckdb.DuckDBPyConnection, database: str, name: str, source: str, layer: str
) -> list[tuple[str, str]]:
    con.execute(f'CREATE OR REPLACE VIEW "{database}"."{name}" AS SELECT * FROM {source}')
    comment = _quote(TABLE_COMMENT.format(layer=layer))
    con.execute(f'COMMENT ON VIEW "{database}"."{name}" IS {comment}')
    rows = con.execute(f'DESCRIBE "{database}"."{name}"').fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def _register_parquet(
    con: duckdb.DuckDBPyConnection, layer_dir: Path, layer: str
) -> list[TableInfo]:
    tables = []
    for table_dir in sorted(p for p in layer_dir.iterdir() if p.is_dir() and _visible((p.name,))):
        keys, partitions, depths = _partition_layout(table_dir, ".parquet")
        if not depths:
            continue
        source = (
            f"read_parquet({_globs(table_dir, depths, '.parquet')}, hive_partitioning = true, "
            "hive_types_autocast = false, union_by_name = true)"
        )
        described = _create_table_view(con, layer, table_dir.name, source, layer)
        # Glue keeps column names in lower case; DuckDB and Athena match names case-insensitively.
        columns = [Column(n.lower(), glue_type(t)) for n, t in described if n not in keys]
        tables.append(
            TableInfo(layer, table_dir.name, str(table_dir), "parquet", columns, keys, partitions)
        )
    return tables


def _register_quality(con: duckdb.DuckDBPyConnection, quality_dir: Path) -> list[TableInfo]:
    tables = []
    for name, record_table in records.TABLES.items():
        table_dir = quality_dir.parent / record_table.folder
        declared = dict(records.duckdb_columns(name))
        depths = _partition_layout(table_dir, ".json")[2] if table_dir.is_dir() else set()
        columns_sql = (
            "{" + ", ".join(f"{_quote(c)}: {_quote(t)}" for c, t in declared.items()) + "}"
        )
        # The records carry dataset and run_id themselves; the directories only repeat them.
        source = (
            f"read_json({_globs(table_dir, depths, '.json')}, format = 'newline_delimited', "
            f"columns = {columns_sql}, hive_partitioning = false)"
        )
        if not depths:
            # On AWS the stack defines these tables, records or not: here too, empty.
            source = (
                "(SELECT "
                + ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in declared.items())
                + " WHERE false)"
            )
        described = _create_table_view(con, "gold", name, source, "quality")
        columns = [Column(n, glue_type(t)) for n, t in described]
        # No partition keys: dataset and run_id are columns of the records (jobs.common.records).
        tables.append(TableInfo("gold", name, str(table_dir), "json", columns))
    return tables


def _drop_stale(con: duckdb.DuckDBPyConnection, layer: str, keep: set[tuple[str, str]]) -> None:
    rows = con.execute(
        "SELECT schema_name, view_name FROM duckdb_views() "
        "WHERE comment = ? AND database_name = current_database()",
        [TABLE_COMMENT.format(layer=layer)],
    ).fetchall()
    for schema, view in rows:
        if (schema, view) not in keep:
            con.execute(f'DROP VIEW IF EXISTS "{schema}"."{view}"')


def register_layer(lake_root: str, layer: str) -> list[TableInfo]:
    """(Re)create the catalog tables of one layer from what is in the lake, like a crawler run.

    Parameters
    ----------
    lake_root
        The lake directory.
    layer
        ``bronze``, ``silver`` or ``gold`` (one table per dataset or mart directory with Parquet
        files), or ``quality`` (``gold.quality_results`` and ``gold.quality_runs`` over the JSON
        Lines records).

    Returns
    -------
    list[TableInfo]
        The tables registered, with Glue-typed columns, partition keys and partition values.
        Tables registered before whose directory is gone are dropped.
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}")
    layer_dir = lake_path(lake_root) / layer
    with connect(lake_root, write=True) as con:
        if layer == "quality":
            tables = _register_quality(con, layer_dir)
        else:
            tables = _register_parquet(con, layer_dir, layer) if layer_dir.is_dir() else []
        _drop_stale(con, layer, {(t.database, t.name) for t in tables})
    return tables


def list_tables(lake_root: str) -> pd.DataFrame:
    """Every table and view of the catalog: database, name, kind (table or view)."""
    import pandas as pd

    if not catalog_path(lake_root).exists():
        return pd.DataFrame(columns=["database", "name", "kind"])
    with connect(lake_root) as con:
        return con.execute(
            "SELECT schema_name AS database, view_name AS name, "
            "CASE WHEN comment LIKE 'medallion:%' THEN 'table' ELSE 'view' END AS kind "
            "FROM duckdb_views() WHERE NOT internal AND database_name = current_database() "
            "ORDER BY 1, 2"
        ).df()


# --- translating and running Athena SQL -----------------------------------------------------------


def _syntax_error(err: ParseError) -> QueryError:
    """sqlglot's first error, worded for an analyst, positioned at the start of the bad token."""
    first = err.errors[0] if err.errors else {}
    detail = str(first.get("description") or str(err).splitlines()[0])
    incomplete = re.search(r"Required keyword: .* for <class '[\w.]*?(\w+)'>", detail)
    if incomplete:
        detail = f"incomplete {incomplete.group(1).upper()} expression"
    highlight = str(first.get("highlight") or "")
    line = int(first.get("line") or 1)
    # sqlglot points at the last character of the token; Trino at the first
    column = max(int(first.get("col") or 1) - len(highlight) + 1, 1)
    near = f" near {highlight!r}" if highlight else ""
    return QueryError(f"syntax error: {detail}{near}", line, column)


def _parse(sql: str) -> list[exp.Expr]:
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialects.ATHENA) if s is not None]
    except ParseError as err:
        raise _syntax_error(err) from None
    except TokenError as err:
        raise QueryError(f"syntax error: {err}") from None
    if not statements:
        raise QueryError("empty SQL statement")
    return statements


def translate(sql: str) -> str:
    """Translate Athena (Trino) SQL into DuckDB SQL with sqlglot.

    Types are annotated first so that what sqlglot can type keeps Trino's meaning: ``7 / 2`` is
    an integer division (3), not 3.5. Column types are unknown here, so the views cast explicitly.

    Parameters
    ----------
    sql
        One or more Athena statements.

    Returns
    -------
    str
        The DuckDB statements, separated by ``;``.

    Raises
    ------
    QueryError
        When the SQL does not parse as Athena SQL; the message has the line and column.
    """
    return ";\n".join(annotate_types(s).sql(dialect=dialects.DUCKDB) for s in _parse(sql))


def _position(sql: str, offset: int) -> tuple[int, int]:
    before = sql[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _locate(original: str, translated: str, details: dict[str, str]) -> tuple[int, int]:
    """Where a DuckDB error points in the original SQL: found by the name it is about."""
    name = details.get("name") or ""
    if not name and details.get("position", "").isdigit():
        match = re.match(r"[\w.\"]+", translated[int(details["position"]) :])
        name = match.group(0).strip('"').split(".")[-1] if match else ""
    if name:
        found = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", original, re.IGNORECASE)
        if found:
            return _position(original, found.start())
    return 1, 1


def _query_error(err: duckdb.Error, original: str, translated: str) -> QueryError:
    text = str(err)
    payload = text[text.find("{") :] if "{" in text else ""
    try:
        details = {str(k): str(v) for k, v in json.loads(payload).items()}
    except (json.JSONDecodeError, AttributeError):
        details = {"exception_message": text}
    kind = details.get("exception_type", type(err).__name__.removesuffix("Exception"))
    message = details.get("exception_message", text).split("\n")[0]
    line, column = _locate(original, translated, details)
    return QueryError(f"{kind} error: {message}", line, column)


def _is_write(statements: list[exp.Expr]) -> bool:
    return any(not isinstance(s, exp.Query | exp.Describe | exp.Show) for s in statements)


def execute(lake_root: str, sql: str, database: str = "gold", exact: bool = False) -> pd.DataFrame:
    """Run Athena SQL on the local catalog and return the result.

    Parameters
    ----------
    lake_root
        The lake directory; its catalog is built on first use when it does not exist yet.
    sql
        Athena (Trino) SQL: a query, or DDL such as ``CREATE OR REPLACE VIEW gold.v AS ...``.
    database
        The database unqualified table names resolve in (Athena's QueryExecutionContext).
    exact
        Decimals as ``Decimal`` values with their scale (DuckDB's DataFrames hold doubles), and
        the DuckDB column types in ``attrs["duckdb_types"]``: the local Athena answers with them.

    Returns
    -------
    pandas.DataFrame
        The rows of the last statement (empty for DDL).

    Raises
    ------
    QueryError
        When the SQL does not parse or DuckDB rejects it; the message is one line with the
        position in the original SQL.
    """
    statements = _parse(sql)
    if database not in SCHEMAS:
        raise QueryError(
            f"database {database!r} does not exist; expected one of {', '.join(SCHEMAS)}"
        )
    if not catalog_path(lake_root).exists():
        build_catalog(lake_root)
    steps = [(s, annotate_types(s).sql(dialect=dialects.DUCKDB)) for s in statements]
    # A job rewriting a table (Spark's overwrite: folder removed, then files under _temporary,
    # then committed) leaves it without files for a moment: wait for the write to settle.
    result: pd.DataFrame = rewrites.retrying()(_run, lake_root, sql, steps, database, exact)
    return result


def _run(
    lake: str, sql: str, steps: list[tuple[exp.Expr, str]], database: str, exact: bool
) -> pd.DataFrame:
    """Each statement, parsed and translated to DuckDB, in one connection; the last result."""
    import pandas as pd

    with connect(lake, write=_is_write([parsed for parsed, _ in steps])) as con:
        con.execute("SET errors_as_json = true")
        con.execute(f"SET search_path = {_quote(database)}")
        result = pd.DataFrame()
        for original, duck in steps:
            try:
                cursor = con.execute(duck)
                types = [str(column[1]) for column in cursor.description or ()]
                if not types:
                    result = pd.DataFrame()
                elif exact:  # through Arrow: decimals stay Decimal values with their scale
                    result = cursor.fetch_arrow_table().to_pandas(date_as_object=True)
                    result.attrs["duckdb_types"] = types
                else:  # dates stay dates (not midnight timestamps), as Athena returns them
                    result = cursor.df(date_as_object=True)
            except duckdb.Error as err:
                raise _query_error(err, sql if len(steps) == 1 else original.sql(), duck) from None
    return result


def create_views(lake_root: str, sql_dir: Path | None = None, strict: bool = True) -> list[str]:
    """(Re)create the analysts' views of ``sql/`` in the local catalog, as the state machine does.

    Parameters
    ----------
    lake_root
        The lake directory.
    sql_dir
        Where the view files are; the repository's ``sql/`` by default.
    strict
        Raise on the first view that fails (True), or skip views whose tables are missing.

    Returns
    -------
    list[str]
        The names of the views created.
    """
    created = []
    for name, statement in view_statements(sql_dir):
        try:
            execute(lake_root, statement, database="gold")
        except QueryError as err:
            if strict:
                raise QueryError(f"view {name}: {err.message}", err.line, err.column) from None
            continue
        created.append(name)
    return created


def build_catalog(lake_root: str, sql_dir: Path | None = None) -> list[str]:
    """Register every layer present in the lake, then create the views that can be created."""
    for layer in LAYERS:
        register_layer(lake_root, layer)
    return create_views(lake_root, sql_dir, strict=False)
