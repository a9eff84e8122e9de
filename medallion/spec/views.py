"""The analysts' Athena views and named queries of ``sql/``, as the stack and state machine use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
NAMED_QUERIES_DIR = "named_queries"
HEADER_FIELD = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class NamedQuery:
    """A saved query for a question analysts ask often (an AWS::Athena::NamedQuery)."""

    name: str
    title: str
    description: str
    database: str
    sql: str


def _split_header(text: str) -> tuple[list[str], str]:
    """The leading comment lines of a SQL file, and the statement after them."""
    lines = text.strip().splitlines()
    header = []
    while lines and (lines[0].startswith("--") or not lines[0].strip()):
        header.append(lines.pop(0))
    body = "\n".join(line.rstrip() for line in lines).strip()
    return header, body.rstrip(";").rstrip()


def header_fields(path: Path) -> dict[str, str]:
    """The ``-- key: value`` lines of a SQL file's header comment (grain, title, description)."""
    header, _ = _split_header(path.read_text(encoding="utf-8"))
    fields: dict[str, str] = {}
    for line in header:
        match = HEADER_FIELD.match(line)
        if match:
            fields[match.group(1)] = match.group(2)
    return fields


def view_files(sql_dir: Path | None = None) -> list[Path]:
    """Every view file, one view per file, sorted by name."""
    return sorted((sql_dir or SQL_DIR).glob("*.sql"))


def view_body(path: Path) -> str:
    """The view's SELECT in Athena SQL, without the header comment and trailing semicolon."""
    _, body = _split_header(path.read_text(encoding="utf-8"))
    return body


def view_statements(sql_dir: Path | None = None, database: str = "gold") -> list[tuple[str, str]]:
    """The DDL that (re)creates every view of ``sql/``, in Athena SQL.

    Parameters
    ----------
    sql_dir
        Where the view files are; the repository's ``sql/`` by default.
    database
        The Glue database the views are created in. The view bodies name their tables without a
        database, so they resolve in the query's execution context (this database).

    Returns
    -------
    list[tuple[str, str]]
        ``(view name, "CREATE OR REPLACE VIEW <database>.<name> AS <select>")`` sorted by name.
    """
    return [
        (path.stem, f"CREATE OR REPLACE VIEW {database}.{path.stem} AS\n{view_body(path)}")
        for path in view_files(sql_dir)
    ]


def named_queries(sql_dir: Path | None = None, database: str = "gold") -> list[NamedQuery]:
    """The named queries of ``sql/named_queries/``, with the title and description of their header.

    Parameters
    ----------
    sql_dir
        The ``sql/`` directory; the repository's by default.
    database
        The database the queries run in.

    Returns
    -------
    list[NamedQuery]
        Sorted by name (the file name without ``.sql``).
    """
    queries = []
    for path in sorted(((sql_dir or SQL_DIR) / NAMED_QUERIES_DIR).glob("*.sql")):
        fields = header_fields(path)
        queries.append(
            NamedQuery(
                name=path.stem,
                title=fields.get("title", path.stem.replace("_", " ")),
                description=fields.get("description", ""),
                database=database,
                sql=view_body(path),
            )
        )
    return queries
