"""The quality records silver writes, defined once: the writers and every catalog derive from it.

Two tables of JSON Lines under the lake root: ``quality_results`` (one record per rule per run)
and ``quality_runs`` (one summary per dataset per run, the row ledger). Each column is a name and
a Glue (Hive) type; the Spark DDL and the DuckDB types are derived from it. Pure Python, no
PySpark: the DuckDB catalog and the CloudFormation template import it too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Field = tuple[str, str]
"""A column: its name and its Glue type (``string``, ``bigint``, ``array<string>``...)."""

# Which columns appeared and disappeared, each with the files that showed it (silver's
# ``SchemaDrift.summary()``).
SCHEMA_DRIFT_TYPE = (
    "struct<appeared:map<string,array<string>>,disappeared:map<string,array<string>>>"
)

QUALITY_RESULTS: tuple[Field, ...] = (
    ("run_id", "string"),
    ("dataset", "string"),
    ("rule_id", "string"),
    ("rule_type", "string"),
    ("scope", "string"),
    ("severity", "string"),
    ("target", "string"),
    ("checked", "bigint"),
    ("failed", "bigint"),
    ("fail_ratio", "double"),
    ("threshold", "double"),
    ("status", "string"),
    ("message", "string"),
    ("evaluated_at", "string"),
)

QUALITY_RUNS: tuple[Field, ...] = (
    ("run_id", "string"),
    ("dataset", "string"),
    ("bronze_runs", "array<string>"),
    ("rows_in", "bigint"),
    ("rows_silver", "bigint"),
    ("rows_quarantined", "bigint"),
    ("rows_duplicate", "bigint"),
    ("rows_flagged", "bigint"),
    ("status", "string"),
    ("published", "boolean"),
    ("failed_rules", "array<string>"),
    ("warned_rules", "array<string>"),
    ("partitions_written", "array<string>"),
    ("schema_drift", SCHEMA_DRIFT_TYPE),
    ("started_at", "string"),
    ("finished_at", "string"),
    # of rows_duplicate, those removed as another copy of a stream event (same event id)
    ("rows_duplicate_event", "bigint"),
)


@dataclass(frozen=True)
class RecordTable:
    """A quality table: its name, its folder under the lake root, its file name and columns."""

    name: str
    folder: str
    file_name: str
    columns: tuple[Field, ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


TABLES: dict[str, RecordTable] = {
    "quality_results": RecordTable("quality_results", "quality/results", "results.json",
                                   QUALITY_RESULTS),
    "quality_runs": RecordTable("quality_runs", "quality/runs", "summary.json", QUALITY_RUNS),
}  # fmt: skip


def table_names() -> list[str]:
    """``["quality_results", "quality_runs"]``."""
    return list(TABLES)


def glue_columns(table: str) -> list[tuple[str, str]]:
    """``[(column name, Glue type)]`` of a quality table, in the order the records hold them."""
    return list(TABLES[table].columns)


def duckdb_columns(table: str) -> list[tuple[str, str]]:
    """``[(column name, DuckDB type)]`` of a quality table (``array<string>`` is ``VARCHAR[]``)."""
    return [(name, duckdb_type(kind)) for name, kind in TABLES[table].columns]


def spark_ddl(table: str) -> str:
    """The Spark DDL schema of a quality table (Glue types are Spark DDL types)."""
    return ", ".join(f"`{name}` {kind}" for name, kind in TABLES[table].columns)


_DUCKDB_SIMPLE = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


def duckdb_type(glue_type: str) -> str:
    """The DuckDB type of a Glue type: ``map<string,array<string>>`` is
    ``MAP(VARCHAR, VARCHAR[])``, ``struct<a:bigint>`` is ``STRUCT(a BIGINT)``."""
    kind = glue_type.strip()
    outer = re.fullmatch(r"(array|map|struct)<(.*)>", kind)
    if outer is None:
        if kind.startswith("decimal"):
            return kind.upper()
        return _DUCKDB_SIMPLE[kind]
    wrapper, inner = outer.groups()
    parts = _split_top_level(inner)
    if wrapper == "array":
        return f"{duckdb_type(inner)}[]"
    if wrapper == "map":
        return f"MAP({duckdb_type(parts[0])}, {duckdb_type(parts[1])})"
    fields = [part.split(":", 1) for part in parts]
    return "STRUCT(" + ", ".join(f"{n} {duckdb_type(t)}" for n, t in fields) + ")"


def _split_top_level(text: str) -> list[str]:
    """Split on the commas not nested inside ``<>`` or ``()``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char in "<("
        depth -= char in ">)"
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def make_record(table: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A record of a quality table, its keys in the definition's order.

    Raises
    ------
    KeyError
        When ``values`` lacks a column of the table or has a key the table does not define: a
        writer cannot write what the catalogs would not show.
    """
    names = TABLES[table].column_names
    extra = sorted(set(values) - set(names))
    missing = [name for name in names if name not in values]
    if extra or missing:
        raise KeyError(f"{table} record: undefined keys {extra}, missing columns {missing}")
    return {name: values[name] for name in names}


def record_file(table: str, dataset: str, run_id: str, attempt: str = "") -> str:
    """Where a run's records of a table go, under the lake root:
    ``quality/results/dataset=<ds>/run_id=<run>/results.json``, or with an attempt
    ``.../run_id=<run>/results-<attempt>.json``: records are append-only, so each attempt of a
    run id writes a file of its own and a re-run never replaces an earlier attempt's records."""
    found = TABLES[table]
    name = found.file_name
    if attempt:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem}-{attempt}{dot}{ext}"
    return f"{found.folder}/dataset={dataset}/run_id={run_id}/{name}"


def attempt_stamp(moment: datetime | None = None) -> str:
    """An attempt's name in its record files: UTC time to the microsecond,
    ``20240131T091502123456``, so file names sort in the order the attempts wrote them."""
    return (moment or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%f")
