"""Loads the generated retailer datasets into PostgreSQL tables, and writes the contracts that
read them back (the shipped contracts with a ``source:`` section), for the database path.

Each dataset becomes a table ``<schema>.<dataset>`` whose columns are the export's own (CSV
header fields, JSON keys), as text: the database holds what the export held, defects in values
included, so silver quarantines the same rows either way. A ``row_id`` (an increasing id) is
the watermark the contracts extract by. A line a table cannot hold (a CSV line with the wrong
number of fields, a JSON line that does not parse) is not loaded, and counted as such.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medallion.sample import DEFAULT_SCHEMA
from medallion.sample.common import DATASETS, FILES

WATERMARK = "row_id"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


@dataclass(frozen=True)
class LoadedTable:
    """What one table holds after a load."""

    table: str
    columns: tuple[str, ...]
    rows: int
    not_loaded: int


def _decoded(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.removeprefix("\ufeff").rstrip("\r\n")


def read_csv(path: Path) -> tuple[list[str], list[list[str]], int]:
    """A CSV export's header, the lines that have its number of fields, and how many do not."""
    with path.open("rb") as handle:
        lines = [_decoded(line) for line in handle]
    header = next(csv.reader([lines[0]])) if lines else []
    rows, bad = [], 0
    for line in lines[1:]:
        fields = next(csv.reader([line]), [])
        if len(fields) == len(header) and line.strip():
            rows.append(fields)
        else:
            bad += 1
    return header, rows, bad


def read_jsonl(path: Path) -> tuple[list[str], list[list[str | None]], int]:
    """A JSON Lines export's keys (sorted), each object's values as text, and bad lines."""
    objects: list[dict[str, Any]] = []
    bad = 0
    with path.open("rb") as handle:
        for raw in handle:
            try:
                value = json.loads(_decoded(raw))
            except ValueError:
                bad += 1
                continue
            if isinstance(value, dict):
                objects.append(value)
            else:
                bad += 1
    keys = sorted({key for obj in objects for key in obj})

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) or value is None else json.dumps(value)

    return keys, [[text(obj.get(key)) for key in keys] for obj in objects], bad


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_dataset(conn: Any, schema: str, dataset: str, path: Path) -> LoadedTable:
    """Replace ``<schema>.<dataset>`` with the export at ``path``."""
    reader = read_jsonl if path.suffix == ".jsonl" else read_csv
    columns, rows, bad = reader(path)
    table = f"{_quote(schema)}.{_quote(dataset)}"
    definitions = ", ".join(f"{_quote(c)} text" for c in columns)
    conn.execute(f"DROP TABLE IF EXISTS {table}".encode())
    conn.execute(
        f"CREATE TABLE {table} ({_quote(WATERMARK)} bigserial PRIMARY KEY, {definitions})".encode()
    )
    names = ", ".join(_quote(c) for c in columns)
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} ({names}) FROM STDIN".encode()) as copy,
    ):
        for row in rows:
            copy.write_row(row)
    return LoadedTable(f"{schema}.{dataset}", tuple(columns), len(rows), bad)


def load_postgres(
    url: str, landing: str | Path, schema: str = DEFAULT_SCHEMA
) -> dict[str, LoadedTable]:
    """Load every generated dataset found under ``landing`` into ``schema`` (replacing its
    tables), in one transaction.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/dbname``.
    landing
        The directory ``generate`` wrote (``<dataset>/<file>``).
    schema
        The database schema, created if missing.

    Returns
    -------
    dict
        Dataset to the table loaded.
    """
    import psycopg  # lazy: only the database path needs the driver

    if not IDENTIFIER.match(schema):
        raise ValueError(f"schema {schema!r} must be a plain identifier")
    loaded: dict[str, LoadedTable] = {}
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}".encode())
        for dataset in DATASETS:
            path = Path(landing) / FILES[dataset]
            if path.is_file():
                loaded[dataset] = load_dataset(conn, schema, dataset, path)
    return loaded


def database_contract(text: str, schema: str, table: str, engine: str = "postgresql") -> str:
    """A shipped contract's YAML with its landing ``format:`` replaced by a ``source:`` that
    reads ``<schema>.<table>`` incrementally by ``row_id``. A ``stream:`` section (events landed
    beside the exports) goes too, with the comment above it: a database source lands no files."""
    kept: list[str] = []
    in_stream = False
    for line in text.splitlines():
        if re.match(r"^stream:", line):
            in_stream = True
            while kept and kept[-1].startswith("#"):
                kept.pop()
            continue
        if in_stream and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        in_stream = False
        if not re.match(r"^format:\s", line):
            kept.append(line)
    source = [
        "# Read from the database table generate --postgres loaded: incremental by its row_id.",
        "source:",
        f"  engine: {engine}",
        f"  schema: {schema}",
        f"  table: {table}",
        "  mode: incremental",
        f"  watermark_column: {WATERMARK}",
    ]
    return "\n".join([*kept, *source]) + "\n"


def write_database_contracts(
    contracts: str | Path, out: str | Path, schema: str = DEFAULT_SCHEMA
) -> list[Path]:
    """Write ``out/<dataset>.yaml`` for each shipped contract of a generated dataset."""
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in DATASETS:
        shipped = Path(contracts) / f"{dataset}.yaml"
        if shipped.is_file():
            path = target / shipped.name
            path.write_text(database_contract(shipped.read_text(encoding="utf-8"), schema, dataset))
            written.append(path)
    return written
