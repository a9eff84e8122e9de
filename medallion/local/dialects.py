"""The sqlglot dialects Athena SQL is read and DuckDB SQL written in, loaded on import.

sqlglot loads a dialect's module when a statement first names it, and registers the dialect's
class before that module has finished executing: a second thread translating meanwhile builds a
half-defined dialect (sqlglot 30.30: ``NameError: name '_TrinoTokenizer' is not defined``). The
views' branches run their queries side by side, each on its own thread, from the first query of
a fresh process; so every module that parses Athena SQL names its dialects from here.
"""

from __future__ import annotations

import sqlglot.dialects.athena
import sqlglot.dialects.duckdb

ATHENA = sqlglot.dialects.athena.Athena.__name__.lower()
DUCKDB = sqlglot.dialects.duckdb.DuckDB.__name__.lower()
