"""A contract's ``source:`` section: a dataset read from a database, and the SQL it reads with.

Pure: no Spark, no driver. What is parsed here is validated so that nothing of a contract reaches
SQL unchecked: schema, table and column names must be plain identifiers (quoted for the engine
anyway), a query must be one read-only SELECT, and the watermark values bronze puts in a WHERE
clause are formatted from typed values, never pasted from text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobs.common.errors import ContractError

ENGINES = {"postgresql", "sqlserver"}
LOAD_MODES = {"incremental", "snapshot"}
# Letters, digits and _, not starting with a digit, at most 128 characters (SQL Server's limit;
# PostgreSQL's is 63 bytes, which the database itself enforces).
SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Words that make a statement other than a read. A query is also refused when it holds a
# semicolon or a comment, so a second statement cannot hide behind the first.
WRITE_WORDS = re.compile(
    r"\b(insert|update|delete|merge|drop|alter|create|truncate|grant|revoke|copy|call|exec|"
    r"execute|into|lock|vacuum|set|declare|commit|rollback|begin)\b",
    re.IGNORECASE,
)
SOURCE_FIELDS = {
    "engine", "schema", "table", "query", "mode", "watermark_column", "overlap_minutes",
    "overlap_ids", "partition_column", "lower_bound", "upper_bound", "num_partitions",
    "soft_delete_column", "fetch_size",
}  # fmt: skip
# Rows the driver fetches per round trip: PostgreSQL's driver otherwise reads the whole result
# into memory before the first row is returned.
DEFAULT_FETCH_SIZE = 10_000

# The kinds of watermark column, by the Spark type the JDBC source reads the column as.
TIMESTAMP = "timestamp"  # without time zone (TimestampNTZType, read with preferTimestampNTZ)
TIMESTAMP_TZ = "timestamptz"  # an instant (TimestampType)
INTEGER = "integer"
WATERMARK_KINDS = {TIMESTAMP, TIMESTAMP_TZ, INTEGER}


@dataclass(frozen=True)
class DatabaseSource:
    """Where a dataset's rows come from when they come from a database table or query."""

    engine: str
    schema: str | None
    table: str | None
    query: str | None
    mode: str
    watermark_column: str | None = None
    overlap_minutes: int = 0
    overlap_ids: int = 0
    partition_column: str | None = None
    lower_bound: int | None = None
    upper_bound: int | None = None
    num_partitions: int = 1
    soft_delete_column: str | None = None
    fetch_size: int = DEFAULT_FETCH_SIZE

    @property
    def name(self) -> str:
        """How bronze names the source in ``_ingest_file``: ``jdbc:postgresql/public.orders``."""
        if self.table:
            return f"jdbc:{self.engine}/{self.schema}.{self.table}"
        return f"jdbc:{self.engine}/query"

    def quote(self, identifier: str) -> str:
        """The identifier quoted for the engine; it was validated when the contract was read."""
        check_identifier(identifier)
        return f"[{identifier}]" if self.engine == "sqlserver" else f'"{identifier}"'

    def relation(self) -> str:
        """The table, or the query as a derived table, to select from."""
        if self.query:
            return f"({self.query}) src"
        assert self.schema and self.table
        return f"{self.quote(self.schema)}.{self.quote(self.table)}"

    def select(self, after: Watermark | None = None, upto: Watermark | None = None) -> str:
        """The extraction's SELECT: every column; past ``after`` and up to ``upto`` when given.

        The upper bound is the highest watermark when the run started, so rows committed while
        the batch is read wait for the next run instead of racing the stored watermark.
        """
        sql = f"SELECT * FROM {self.relation()}"
        if not self.watermark_column:
            return sql
        column = self.quote(self.watermark_column)
        bounds = [f"{column} > {self.literal(after)}"] if after is not None else []
        bounds += [f"{column} <= {self.literal(upto)}"] if upto is not None else []
        return sql + (" WHERE " + " AND ".join(bounds) if bounds else "")

    def highest(self) -> str:
        """The highest watermark in the source now."""
        assert self.watermark_column
        column = self.quote(self.watermark_column)
        return f"SELECT MAX({column}) AS m FROM {self.relation()}"

    def count_at_or_before(self, bound: Watermark) -> str:
        """Rows whose watermark is at or before ``bound``: late rows show up as a rise in it."""
        assert self.watermark_column
        column = self.quote(self.watermark_column)
        return (
            f"SELECT COUNT(*) AS n FROM {self.relation()} WHERE {column} <= {self.literal(bound)}"
        )

    def literal(self, mark: Watermark) -> str:
        """A watermark as an SQL literal of the engine, built from its typed value."""
        if mark.kind == INTEGER:
            return str(int(mark.value))
        moment = datetime.fromisoformat(mark.value).isoformat(sep=" ", timespec="microseconds")
        if self.engine == "sqlserver":
            if mark.kind == TIMESTAMP_TZ:
                return f"CAST('{moment} +00:00' AS DATETIMEOFFSET)"
            return f"CAST('{moment}' AS DATETIME2)"
        if mark.kind == TIMESTAMP_TZ:
            return f"TIMESTAMP WITH TIME ZONE '{moment}+00:00'"
        return f"TIMESTAMP '{moment}'"

    def window_start(self, mark: Watermark) -> Watermark:
        """Where the next read starts: the stored watermark less the overlap."""
        if mark.kind == INTEGER:
            return Watermark(INTEGER, str(int(mark.value) - self.overlap_ids))
        moment = datetime.fromisoformat(mark.value) - timedelta(minutes=self.overlap_minutes)
        return Watermark(mark.kind, moment.isoformat(timespec="microseconds"))


@dataclass(frozen=True)
class Watermark:
    """The highest watermark seen: its kind and its value as text (ISO time or an integer)."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in WATERMARK_KINDS:
            raise ValueError(f"unknown watermark kind {self.kind!r}")
        if self.kind == INTEGER:
            int(self.value)
        else:
            datetime.fromisoformat(self.value)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Watermark | None:
        if not data:
            return None
        return cls(str(data["kind"]), str(data["value"]))


def check_identifier(name: str) -> str:
    """``name`` if it is a plain SQL identifier, else a ValueError saying why."""
    if not isinstance(name, str) or not SQL_IDENTIFIER.match(name):
        raise ValueError(
            f"{name!r} is not a plain identifier (letters, digits and _, not starting with a digit)"
        )
    return name


def check_query(query: str) -> str:
    """``query`` if it is one read-only SELECT (or WITH ... SELECT), else a ValueError."""
    text = query.strip()
    if not re.match(r"^(select|with)\b", text, re.IGNORECASE):
        raise ValueError("must start with SELECT or WITH")
    if ";" in text or "--" in text or "/*" in text:
        raise ValueError("must be one statement without ';' or comments")
    word = WRITE_WORDS.search(re.sub(r"'(?:[^']|'')*'", "''", text))
    if word:
        raise ValueError(f"must only read; it contains {word.group(0).upper()!r}")
    return text


def parse_source(file: str, raw: Any) -> DatabaseSource:
    """Read and validate a contract's ``source:`` mapping; errors name the file and the field."""

    def fail(problem: str) -> ContractError:
        return ContractError(f"{file}: source: {problem}")

    if not isinstance(raw, Mapping):
        raise fail("must be a mapping (engine, schema, table or query, mode, ...)")
    unknown = sorted(set(raw) - SOURCE_FIELDS)
    if unknown:
        raise fail(f"unknown field(s) {unknown}; allowed: {sorted(SOURCE_FIELDS)}")
    text = _texts(raw, fail)
    numbers = _numbers(raw, fail)
    if text["engine"] not in ENGINES:
        raise fail(f"field 'engine' is {text['engine']!r}; expected one of {sorted(ENGINES)}")
    mode = text["mode"] or "incremental"
    if mode not in LOAD_MODES:
        raise fail(f"field 'mode' is {mode!r}; expected one of {sorted(LOAD_MODES)}")
    _check_relation(text, fail)
    source = DatabaseSource(
        engine=str(text["engine"]),
        schema=text["schema"],
        table=text["table"],
        query=text["query"],
        mode=mode,
        watermark_column=text["watermark_column"],
        overlap_minutes=numbers.get("overlap_minutes") or 0,
        overlap_ids=numbers.get("overlap_ids") or 0,
        partition_column=text["partition_column"],
        lower_bound=numbers.get("lower_bound"),
        upper_bound=numbers.get("upper_bound"),
        num_partitions=numbers.get("num_partitions") or 1,
        soft_delete_column=text["soft_delete_column"],
        fetch_size=numbers.get("fetch_size") or DEFAULT_FETCH_SIZE,
    )
    _check_load(source, fail)
    return source


def _texts(raw: Mapping[str, Any], fail: Any) -> dict[str, str | None]:
    """The text fields, identifiers checked; missing ones are None."""
    names = ("schema", "table", "watermark_column", "partition_column", "soft_delete_column")
    values: dict[str, str | None] = {}
    for key in ("engine", "query", "mode", *names):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(f"field '{key}' must be str, got {value!r}")
        values[key] = value
    if values["engine"] is None:
        raise fail("missing required field 'engine'")
    for key in names:
        if values[key] is not None:
            try:
                check_identifier(str(values[key]))
            except ValueError as exc:
                raise fail(f"field '{key}': {exc}") from None
    return values


def _numbers(raw: Mapping[str, Any], fail: Any) -> dict[str, int]:
    keys = ("overlap_minutes", "overlap_ids", "lower_bound", "upper_bound", "num_partitions")
    numbers: dict[str, int] = {}
    for key in (*keys, "fetch_size"):
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise fail(f"field '{key}' must be int, got {value!r}")
        if value < 0 and key not in {"lower_bound", "upper_bound"}:
            raise fail(f"field '{key}' must not be negative, got {value}")
        numbers[key] = value
    return numbers


def _check_relation(text: Mapping[str, str | None], fail: Any) -> None:
    if text["query"] is not None:
        if text["table"] is not None or text["schema"] is not None:
            raise fail("give either 'query' or 'schema' and 'table', not both")
        try:
            check_query(str(text["query"]))
        except ValueError as exc:
            raise fail(f"field 'query' {exc}") from None
        return
    for key in ("schema", "table"):
        if text[key] is None:
            raise fail(f"missing required field '{key}' (or give a read-only 'query')")


def _check_load(source: DatabaseSource, fail: Any) -> None:
    if source.mode == "incremental" and not source.watermark_column:
        raise fail("mode 'incremental' needs 'watermark_column' (an updated_at or increasing id)")
    if source.mode == "snapshot" and (source.watermark_column or source.overlap_minutes):
        raise fail("mode 'snapshot' reads the whole table: drop 'watermark_column' and overlaps")
    if source.partition_column:
        if source.lower_bound is None or source.upper_bound is None:
            raise fail("'partition_column' needs 'lower_bound' and 'upper_bound'")
        if source.lower_bound >= source.upper_bound:
            raise fail("'lower_bound' must be below 'upper_bound'")
        if source.num_partitions < 1:
            raise fail("'num_partitions' must be at least 1")
    elif source.lower_bound is not None or source.upper_bound is not None:
        raise fail("'lower_bound' and 'upper_bound' need 'partition_column'")
