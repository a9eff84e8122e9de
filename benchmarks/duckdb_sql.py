"""Silver's typing and row rules as DuckDB SQL text, from a contract: for duckdb_equivalent.py.

Each function mirrors its Spark counterpart: jobs/silver/transforms.py (typing, derived columns)
and jobs/common/quality (row rules with their NULL policy, ``where`` and the parse rule's
precedence; dataset rules' measures). Contract expressions are Spark SQL; sqlglot translates them.
"""

from __future__ import annotations

import re

import sqlglot

from jobs.common.contracts import Column, Contract, Rule

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# --- silver: typing -------------------------------------------------------------------------
_SPARK_TOKENS = (
    ("yyyy", "%Y"),
    ("MM", "%m"),
    ("M", "%-m"),
    ("dd", "%d"),
    ("d", "%-d"),
    ("HH", "%H"),
    ("H", "%-H"),
    ("mm", "%M"),
    ("ss", "%S"),
    ("SSS", "%g"),
    ("XXX", "%z"),
)


def strptime_formats(spark_pattern: str) -> list[str]:
    """DuckDB strptime formats for a Spark datetime pattern (the tokens the contracts use);
    an optional ``[...]`` section gives a format with and one without it; a zone offset also
    accepts a literal Z."""
    optional = re.search(r"\[([^\]]*)\]", spark_pattern)
    if optional:
        with_part = spark_pattern.replace(optional.group(0), optional.group(1), 1)
        without = spark_pattern.replace(optional.group(0), "", 1)
        return strptime_formats(with_part) + strptime_formats(without)
    out, i = "", 0
    while i < len(spark_pattern):
        if spark_pattern[i] == "'":
            end = spark_pattern.index("'", i + 1)
            out += spark_pattern[i + 1 : end]
            i = end + 1
            continue
        for token, code in _SPARK_TOKENS:
            if spark_pattern.startswith(token, i):
                out, i = out + code, i + len(token)
                break
        else:
            out, i = out + spark_pattern[i], i + 1
    return [out, out.replace("%z", "Z")] if "%z" in out else [out]


def raw_name(source: str) -> str:
    return f"_raw__{source}"


def raw_value(source: str) -> str:
    return f"NULLIF(trim({quoted(raw_name(source))}), '')"


def parse_sql(column: Column) -> str:
    """The column's typed value from its trimmed string; NULL when it does not parse."""
    raw, kind = raw_value(column.source), column.type
    if kind == "string":
        return raw
    if kind in ("int", "bigint"):
        number = f"TRY_CAST({raw} AS DECIMAL(38,6))"
        target = "INTEGER" if kind == "int" else "BIGINT"
        return f"CASE WHEN {number} = floor({number}) THEN TRY_CAST({number} AS {target}) END"
    if kind == "double" or kind.startswith("decimal"):
        return f"TRY_CAST({raw} AS {kind.upper()})"
    if kind == "boolean":
        return (
            f"CASE WHEN lower({raw}) IN {tuple(TRUE_WORDS)} THEN true "
            f"WHEN lower({raw}) IN {tuple(FALSE_WORDS)} THEN false END"
        )
    if kind in ("date", "timestamp"):
        formats = [f for p in column.formats or ("yyyy-MM-dd",) for f in strptime_formats(p)]
        parsed = ", ".join(
            f"TRY_CAST(try_strptime({raw}, {literal(f)}) AS TIMESTAMP)" for f in formats
        )
        return f"CAST(coalesce({parsed}) AS {kind.upper()})"
    raise ValueError(f"unsupported type {kind}")


def spark_sql(expression: str) -> str:
    """A contract's Spark SQL expression in DuckDB's dialect (sqlglot); Spark's LIKE escapes
    with a backslash by default, DuckDB's only when told."""
    translated = sqlglot.transpile(expression, read="spark", write="duckdb")[0]
    return re.sub(r"(LIKE '(?:[^']|'')*\\(?:[^']|'')*')", r"\1 ESCAPE '\\'", translated)


def typed_select(contract: Contract, table: str, bronze_columns: list[str]) -> str:
    """Bronze's strings renamed, the typed columns, the could-not-parse flags, derived columns."""
    sources = set(contract.source_columns)
    renamed = [
        f"{quoted(c)} AS {quoted(raw_name(c))}" if c in sources else quoted(c)
        for c in bronze_columns
    ]
    absent = [f"NULL::VARCHAR AS {quoted(raw_name(c))}" for c in sources - set(bronze_columns)]
    typed = [f"{parse_sql(c)} AS {quoted(c.name)}" for c in contract.columns]
    flags = [
        f"({raw_value(c.source)} IS NOT NULL AND {quoted(c.name)} IS NULL) AS "
        f"{quoted('_unparsed_' + c.name)}"
        for c in contract.columns
        if c.type != "string"
    ]
    derived = [f"{spark_sql(d.expression)} AS {quoted(d.name)}" for d in contract.derived]
    # A stream's event id and sent-at time (contracts with a ``stream:``): null in files' rows.
    typed += [
        f"NULL::{c.type.upper()} AS {quoted(c.name)}"
        for c in getattr(contract, "event_columns", ())
    ]
    inner = f"SELECT {', '.join(renamed + absent)} FROM {table}"
    step = f"SELECT *, {', '.join(typed)} FROM ({inner})"
    step = f"SELECT *, {', '.join(flags) or 'NULL AS _no_flags'} FROM ({step})"
    return f"SELECT *, {', '.join(derived)} FROM ({step})" if derived else step


# --- silver: rules --------------------------------------------------------------------------
def rule_failed(rule: Rule, has_reference: bool) -> str | None:
    """SQL true where a row fails a row rule (None: the rule cannot run, its reference is
    absent). NULL passes unless ``nulls: fail``; ``not_null`` fails on NULL by definition."""
    value = quoted(rule.column) if rule.column else "NULL"
    text = f"CAST({value} AS VARCHAR)"
    bad: str
    if rule.type == "not_null":
        return f"({value} IS NULL)"
    if rule.type == "accepted_values":
        bad = f"{text} NOT IN ({', '.join(literal(v) for v in rule.values)})"
    elif rule.type in ("range", "length"):
        measured = value if rule.type == "range" else f"length({text})"
        parts = [f"{measured} < {rule.min}"] if rule.min is not None else []
        parts += [f"{measured} > {rule.max}"] if rule.max is not None else []
        bad = " OR ".join(parts) or "false"
    elif rule.type == "regex":
        bad = f"NOT regexp_matches({text}, {literal(rule.pattern or '')})"
    elif rule.type == "expression":
        value = f"({spark_sql(rule.expression or 'true')})"
        bad = f"NOT {value}"
    elif rule.type == "unique":
        bad = f"count(*) OVER (PARTITION BY {value}) > 1"
    elif rule.type == "foreign_key":
        if not has_reference or rule.reference is None:
            return None
        ref = rule.reference
        bad = (
            f"{value} NOT IN (SELECT {quoted(ref.column)} FROM silver_{ref.dataset} "
            f"WHERE {quoted(ref.column)} IS NOT NULL)"
        )
    else:
        raise ValueError(f"rule type {rule.type} is not reproduced")
    nulls = "true" if rule.nulls == "fail" else "false"
    return f"(CASE WHEN {value} IS NULL THEN {nulls} ELSE coalesce({bad}, false) END)"


def checks_sql(contract: Contract, references: set[str]) -> tuple[list[str], list[str]]:
    """The error and warn checks as ``CASE WHEN failed THEN 'rule id' END`` items: malformed
    lines and unparseable values (error) first, then the row rules with their ``where`` and the
    parse rule's precedence (a value that did not parse is reported by its parse rule alone)."""
    errors = [f"CASE WHEN _corrupt_record IS NOT NULL THEN '{contract.dataset}_well_formed' END"]
    errors += [
        f"CASE WHEN {quoted('_unparsed_' + c.name)} THEN '{contract.dataset}_{c.name}_parse' END"
        for c in contract.columns
        if c.type != "string"
    ]
    warns: list[str] = []
    typed = {c.name for c in contract.columns if c.type != "string"}
    for rule in contract.row_rules:
        ref = rule.reference.dataset if rule.reference else ""
        failed = rule_failed(rule, ref in references)
        if failed is None:
            continue
        if rule.where:
            failed = f"(coalesce({spark_sql(rule.where)}, false) AND {failed})"
        if rule.column in typed:
            failed = f"({failed} AND NOT {quoted('_unparsed_' + (rule.column or ''))})"
        item = f"CASE WHEN {failed} THEN {literal(rule.id)} END"
        (errors if rule.severity == "error" else warns).append(item)
    return errors, warns


def measures_sql(contract: Contract, references: set[str]) -> list[str]:
    """The dataset rules' measures over the checked rows (clean rows where the rule is about
    published data): counts a verdict is computed from."""
    clean = "len(dq_failed_rules) = 0"
    out = ["count(*) AS rows_in", f"count(*) FILTER (WHERE NOT {clean}) AS quarantined"]
    for i, rule in enumerate(contract.dataset_rules):
        column = quoted(rule.column) if rule.column else "NULL"
        if rule.type == "completeness":
            out.append(f"count(*) FILTER (WHERE {clean} AND {column} IS NULL) AS m{i}")
        elif rule.type == "uniqueness":
            cols = ", ".join(quoted(c) for c in rule.columns)
            out.append(f"count(DISTINCT ({cols})) FILTER (WHERE {clean}) AS m{i}")
        elif rule.type == "referential_integrity" and rule.reference:
            if rule.reference.dataset in references:
                failed = rule_failed(replace_type(rule), True)
                scope = f"coalesce({spark_sql(rule.where)}, false)" if rule.where else "true"
                out.append(f"count(*) FILTER (WHERE {clean} AND {scope} AND {failed}) AS m{i}")
        elif rule.type == "freshness" and rule.column:
            out.append(f"max({column}) FILTER (WHERE {clean}) AS m{i}")
    return out


def replace_type(rule: Rule) -> Rule:
    """A referential-integrity rule as the row-level foreign key it counts."""
    from dataclasses import replace

    return replace(rule, type="foreign_key", nulls="pass")
