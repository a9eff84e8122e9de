"""Data contracts: one YAML per source dataset, read once into validated, typed objects."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jobs.common.errors import ContractError
from jobs.common.jdbc_source import DatabaseSource, parse_source

SIMPLE_TYPES = {"string", "int", "bigint", "double", "boolean", "date", "timestamp"}
DECIMAL_TYPE = re.compile(r"^decimal\((\d{1,2}),(\d{1,2})\)$")


@dataclass(frozen=True)
class RuleSchema:
    """What a rule type takes in a contract: its scope (row or dataset), the fields it needs,
    and fields of which it needs at least one."""

    scope: str
    needs: tuple[str, ...]
    one_of: tuple[str, ...] = ()


# The contract schema of every rule type. Each is implemented in one module of the quality
# engine (jobs/common/quality/row_rules.py or dataset_rules.py); adding a rule type touches that
# module and this table.
RULE_TYPES: dict[str, RuleSchema] = {
    "not_null": RuleSchema("row", ("column",)),
    "unique": RuleSchema("row", ("column",)),
    "accepted_values": RuleSchema("row", ("column", "values")),
    "range": RuleSchema("row", ("column",), ("min", "max")),
    "regex": RuleSchema("row", ("column", "pattern")),
    "length": RuleSchema("row", ("column",), ("min", "max")),
    "expression": RuleSchema("row", ("expression",)),
    "foreign_key": RuleSchema("row", ("column", "reference")),
    "row_count": RuleSchema("dataset", ("min_rows",)),
    "completeness": RuleSchema("dataset", ("column", "max_fail_ratio")),
    "uniqueness": RuleSchema("dataset", ("columns", "max_fail_ratio")),
    "referential_integrity": RuleSchema("dataset", ("column", "reference", "max_fail_ratio")),
    "freshness": RuleSchema("dataset", ("column", "max_age_days")),
    "quarantine_ratio": RuleSchema("dataset", ("max_fail_ratio",)),
}
ROW_RULE_TYPES = {name for name, schema in RULE_TYPES.items() if schema.scope == "row"}
DATASET_RULE_TYPES = {name for name, schema in RULE_TYPES.items() if schema.scope == "dataset"}
SEVERITIES = {"error", "warn"}
NULL_POLICIES = {"pass", "fail"}
FORMATS = {"csv", "jsonl"}
# The format of a dataset a database gives (a contract with a source: section).
DATABASE_FORMAT = "jdbc"
GRANULARITIES = {"day": 3, "month": 2, "year": 1}
DEDUPE_STRATEGIES = {"exact", "latest_per_key"}
# What a file whose columns differ from the contract's does to the run: warn, or fail it.
SCHEMA_CHANGE_POLICIES = {"warn", "fail"}
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Column:
    """One source column: its name in the file, its silver name, type and parse formats.

    Dates and timestamps may list several formats (a CSV saved from a spreadsheet writes
    another one); the first that parses wins.
    """

    source: str
    name: str
    type: str
    formats: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # other names files give it (Online Retail II's "Invoice")

    @property
    def format(self) -> str | None:
        return " | ".join(self.formats) if self.formats else None

    @property
    def is_string(self) -> bool:
        return self.type == "string"


@dataclass(frozen=True)
class Derived:
    """A silver column computed from the typed columns with a Spark SQL expression."""

    name: str
    expression: str


@dataclass(frozen=True)
class Reference:
    """The dataset and column a foreign key points at."""

    dataset: str
    column: str


@dataclass(frozen=True)
class Rule:
    """A row rule (quarantine or flag) or a dataset rule (pass, warn or fail the run)."""

    id: str
    type: str
    severity: str
    scope: str
    column: str | None = None
    columns: tuple[str, ...] = ()
    nulls: str = "pass"
    description: str = ""
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    expression: str | None = None
    reference: Reference | None = None
    where: str | None = None
    max_fail_ratio: float | None = None
    min_rows: int | None = None
    max_rows: int | None = None
    max_age_days: int | None = None

    @property
    def target(self) -> str:
        """The column or columns the rule checks, for reports."""
        if self.column:
            return self.column
        return ",".join(self.columns)


@dataclass(frozen=True)
class EventStream:
    """Events of the dataset delivered by a stream (Kinesis Data Firehose) beside its files.

    The objects under ``landing/<dataset>/<prefix>/`` (any depth: Firehose adds a
    ``YYYY/MM/DD/HH/`` date prefix) hold JSON Lines, gzip'd when their name ends in ``.gz``: one
    event per line, the source columns under the event fields ``fields`` names (the source
    column's own name by default), an id shared by every copy of one event, and the time of the
    send attempt. Both are kept: bronze and silver columns named as the fields are.
    """

    prefix: str
    event_id: str
    sent_at: str
    fields: Mapping[str, str] = field(default_factory=dict)

    def field_of(self, source: str) -> str:
        """The event field that holds a source column."""
        return self.fields.get(source, source)


@dataclass(frozen=True)
class Contract:
    """Everything the jobs know about one source dataset."""

    dataset: str
    description: str
    grain: str
    format: str
    columns: tuple[Column, ...]
    derived: tuple[Derived, ...]
    key: tuple[str, ...]
    dedupe_strategy: str
    dedupe_order_by: tuple[str, ...]
    business_date: str
    partitioning: str
    pii: tuple[str, ...]
    row_rules: tuple[Rule, ...]
    dataset_rules: tuple[Rule, ...]
    on_schema_change: str = "warn"
    source_file: str = field(default="", compare=False)
    # Set when the dataset comes from a database (the contract's source: section), not files.
    database: DatabaseSource | None = None
    # Set when events of the dataset also arrive by a stream (the contract's stream: section).
    stream: EventStream | None = None

    @property
    def partition_columns(self) -> list[str]:
        """Silver's date partitions: year/month/day, or coarser for small dimension tables."""
        return ["year", "month", "day"][: GRANULARITIES[self.partitioning]]

    @property
    def source_columns(self) -> list[str]:
        return [c.source for c in self.columns]

    @property
    def source_aliases(self) -> dict[str, str]:
        """Each other name files give a source column (its ``aliases``), to the source name."""
        return {alias: c.source for c in self.columns for alias in c.aliases}

    @property
    def event_columns(self) -> tuple[Column, ...]:
        """The stream's event id and sent-at time as columns (none without a stream); files
        lack them, so they are not source columns: they are null in a file's rows."""
        if self.stream is None:
            return ()
        return (
            Column(self.stream.event_id, self.stream.event_id, "string"),
            Column(self.stream.sent_at, self.stream.sent_at, "timestamp"),
        )

    @property
    def typed_columns(self) -> tuple[Column, ...]:
        """Every column silver types: the source columns, then the event columns."""
        return self.columns + self.event_columns

    @property
    def silver_columns(self) -> list[str]:
        return (
            [c.name for c in self.columns]
            + [d.name for d in self.derived]
            + [c.name for c in self.event_columns]
        )

    @property
    def references(self) -> set[str]:
        """Datasets this one's rules look up."""
        rules = self.row_rules + self.dataset_rules
        return {r.reference.dataset for r in rules if r.reference}


class _Reader:
    """Reads one mapping of a contract, naming the file and place in every error."""

    def __init__(self, source: str, data: Mapping[str, Any], where: str = "") -> None:
        self.source = source
        self.data = data
        self.where = where

    def fail(self, problem: str) -> ContractError:
        place = f" {self.where}" if self.where else ""
        return ContractError(f"{self.source}:{place} {problem}")

    def required(self, key: str, kind: type | tuple[type, ...] = str) -> Any:
        if key not in self.data or self.data[key] is None:
            raise self.fail(f"missing required field '{key}'")
        return self._typed(key, kind)

    def optional(self, key: str, kind: type | tuple[type, ...] = str, default: Any = None) -> Any:
        if key not in self.data or self.data[key] is None:
            return default
        return self._typed(key, kind)

    def _typed(self, key: str, kind: type | tuple[type, ...]) -> Any:
        value = self.data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(f"field '{key}' must be {names}, got {value!r}")
        return value

    def choice(self, key: str, allowed: set[str], default: str | None = None) -> str:
        value = self.optional(key, str, default) if default is not None else self.required(key)
        if value not in allowed:
            raise self.fail(f"field '{key}' is {value!r}; expected one of {sorted(allowed)}")
        return str(value)

    def unknown_keys(self, allowed: set[str]) -> None:
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise self.fail(f"unknown field(s) {extra}; allowed: {sorted(allowed)}")


def _column(source: str, raw: Any, index: int) -> Column:
    if not isinstance(raw, Mapping):
        raise ContractError(f"{source}: columns[{index}] must be a mapping")
    r = _Reader(source, raw, f"columns[{index}]")
    r.unknown_keys({"source", "name", "type", "format", "aliases"})
    name = r.required("name")
    if not IDENTIFIER.match(name):
        raise r.fail(f"silver name {name!r} must be snake_case")
    type_ = r.required("type").replace(" ", "").lower()
    if type_ not in SIMPLE_TYPES and not DECIMAL_TYPE.match(type_):
        raise r.fail(f"type {type_!r} is not one of {sorted(SIMPLE_TYPES)} or decimal(p,s)")
    formats = r.optional("format", (str, list), [])
    formats = [formats] if isinstance(formats, str) else formats
    if not all(isinstance(f, str) and f for f in formats):
        raise r.fail("format must be a pattern or a list of patterns")
    aliases = r.optional("aliases", list, [])
    if not all(isinstance(a, str) and a.strip() for a in aliases):
        raise r.fail("aliases must be a list of column names")
    return Column(r.required("source"), name, type_, tuple(formats), tuple(aliases))


RULE_FIELDS = {
    "id", "type", "severity", "column", "columns", "nulls", "description", "values", "min",
    "max", "pattern", "expression", "reference", "where", "max_fail_ratio", "min_rows",
    "max_rows", "max_age_days",
}  # fmt: skip


def _rule(source: str, raw: Any, index: int, scope: str, known: set[str]) -> Rule:
    section = f"{scope}_rules[{index}]"
    if not isinstance(raw, Mapping):
        raise ContractError(f"{source}: {section} must be a mapping")
    r = _Reader(source, raw, section)
    rule_id = r.required("id")
    r.where = f"rule '{rule_id}'"
    r.unknown_keys(RULE_FIELDS)
    rule_type = r.choice("type", {t for t, schema in RULE_TYPES.items() if schema.scope == scope})
    reference = None
    if "reference" in raw:
        ref = _Reader(source, r.required("reference", dict), f"rule '{rule_id}' reference")
        reference = Reference(ref.required("dataset"), ref.required("column"))
    rule = Rule(
        id=rule_id,
        type=rule_type,
        severity=r.choice("severity", SEVERITIES),
        scope=scope,
        column=r.optional("column"),
        columns=tuple(r.optional("columns", list, [])),
        nulls=r.choice("nulls", NULL_POLICIES, default="pass"),
        description=r.optional("description", str, ""),
        values=tuple(str(v) for v in r.optional("values", list, [])),
        min=r.optional("min", float),
        max=r.optional("max", float),
        pattern=r.optional("pattern"),
        expression=r.optional("expression"),
        reference=reference,
        where=r.optional("where"),
        max_fail_ratio=r.optional("max_fail_ratio", float),
        min_rows=r.optional("min_rows", int),
        max_rows=r.optional("max_rows", int),
        max_age_days=r.optional("max_age_days", int),
    )
    _check_rule(r, rule, known)
    return rule


def _check_rule(r: _Reader, rule: Rule, known: set[str]) -> None:
    """The parameters each rule type needs, and that its columns exist."""
    schema = RULE_TYPES[rule.type]
    for name in schema.needs:
        if not getattr(rule, name):
            if getattr(rule, name) == 0 and name in {"min_rows", "max_fail_ratio"}:
                continue
            raise r.fail(f"type '{rule.type}' needs '{name}'")
    if schema.one_of and all(getattr(rule, name) is None for name in schema.one_of):
        raise r.fail(f"type '{rule.type}' needs " + " or ".join(f"'{n}'" for n in schema.one_of))
    if rule.max_fail_ratio is not None and not 0 <= rule.max_fail_ratio <= 1:
        raise r.fail(f"max_fail_ratio {rule.max_fail_ratio} must be between 0 and 1")
    if rule.pattern is not None:
        try:
            re.compile(rule.pattern)
        except re.error as exc:
            raise r.fail(f"pattern {rule.pattern!r} is not a valid regex: {exc}") from None
    for column in ([rule.column] if rule.column else []) + list(rule.columns):
        if column not in known:
            raise r.fail(f"column '{column}' is not a column of the dataset")


def _rules(r: _Reader, source: str, known: set[str]) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
    """The row and dataset rules, their ids unique across both."""
    row_rules = tuple(
        _rule(source, x, i, "row", known) for i, x in enumerate(r.optional("row_rules", list, []))
    )
    dataset_rules = tuple(
        _rule(source, x, i, "dataset", known)
        for i, x in enumerate(r.optional("dataset_rules", list, []))
    )
    ids = [rule.id for rule in row_rules + dataset_rules]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise r.fail(f"rule ids must be unique; repeated: {duplicated}")
    return row_rules, dataset_rules


STREAM_FIELDS = {"prefix", "event_id", "sent_at", "fields"}


def _stream(source: str, raw: Any, columns: tuple[Column, ...], known: set[str]) -> EventStream:
    """The ``stream:`` section: where the events land, and which fields are the id, the time
    and (when named otherwise) each source column."""
    if not isinstance(raw, Mapping):
        raise ContractError(f"{source}: stream must be a mapping")
    r = _Reader(source, raw, "stream")
    r.unknown_keys(STREAM_FIELDS)
    prefix = r.required("prefix").strip("/")
    if not prefix or any(part in {"", ".", ".."} for part in prefix.split("/")):
        raise r.fail(f"prefix {raw['prefix']!r} must be a folder under landing/<dataset>/")
    own = (r.required("event_id"), r.required("sent_at"))
    for name in own:
        if not IDENTIFIER.match(name) or name in known:
            raise r.fail(f"event field {name!r} must be snake_case and not a silver column")
    if own[0] == own[1]:
        raise r.fail("event_id and sent_at must be different fields")
    fields = r.optional("fields", dict, {})
    sources = {c.source for c in columns}
    for column, event_field in fields.items():
        if column not in sources or not isinstance(event_field, str) or not event_field:
            raise r.fail(f"fields maps source columns to event fields; got {column!r}")
    return EventStream(prefix, own[0], own[1], dict(fields))


def _spelled_once(r: _Reader, columns: tuple[Column, ...]) -> None:
    spellings = [n.lower() for c in columns for n in (c.source, *c.aliases)]
    if len(set(spellings)) != len(spellings):
        raise r.fail("a column's source name or alias names another column too (in any case)")


def parse_contract(source: str, text: str) -> Contract:
    """Parse and validate one contract's YAML text; ``source`` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, Mapping):
        raise ContractError(f"{source}: the contract must be a YAML mapping")
    r = _Reader(source, data)
    r.unknown_keys({
        "dataset", "description", "grain", "format", "columns", "derived", "key",
        "deduplicate", "business_date", "partitioning", "pii", "row_rules", "dataset_rules",
        "on_schema_change", "source", "stream",
    })  # fmt: skip
    dataset = r.required("dataset")
    columns = tuple(_column(source, c, i) for i, c in enumerate(r.required("columns", list)))
    derived = tuple(
        Derived(
            _Reader(source, d, f"derived[{i}]").required("name"),
            _Reader(source, d, f"derived[{i}]").required("expression"),
        )
        for i, d in enumerate(r.optional("derived", list, []))
    )
    _spelled_once(r, columns)
    known = {c.name for c in columns} | {d.name for d in derived}
    if len(known) != len(columns) + len(derived):
        raise r.fail("silver column names must be unique")
    dedupe = _Reader(source, r.required("deduplicate", dict), "deduplicate")
    key = tuple(r.required("key", list))
    business_date = r.required("business_date")
    pii = tuple(r.optional("pii", list, []))
    for name in (*key, business_date, *pii, *dedupe.optional("order_by", list, [])):
        if name not in known:
            raise r.fail(f"'{name}' (key, business_date, pii or order_by) is not a column")
    row_rules, dataset_rules = _rules(r, source, known)
    database = parse_source(source, data["source"]) if "source" in data else None
    if database is not None and "format" in data:
        raise r.fail("field 'format' is for landing files; a dataset with a source: has none")
    stream = _stream(source, data["stream"], columns, known) if "stream" in data else None
    if stream is not None and database is not None:
        raise r.fail("a stream: lands files beside the exports; a dataset with a source: has none")
    return Contract(
        dataset=dataset,
        description=r.optional("description", str, ""),
        grain=r.optional("grain", str, ""),
        format=DATABASE_FORMAT if database else r.choice("format", FORMATS),
        columns=columns,
        derived=derived,
        key=key,
        dedupe_strategy=dedupe.choice("strategy", DEDUPE_STRATEGIES),
        dedupe_order_by=tuple(dedupe.optional("order_by", list, [])),
        business_date=business_date,
        partitioning=r.choice("partitioning", set(GRANULARITIES), default="day"),
        pii=pii,
        row_rules=row_rules,
        dataset_rules=dataset_rules,
        on_schema_change=r.choice("on_schema_change", SCHEMA_CHANGE_POLICIES, default="warn"),
        source_file=source,
        database=database,
        stream=stream,
    )


def load_contracts(texts: Mapping[str, str]) -> dict[str, Contract]:
    """Parse contracts given as {file name: YAML text}; the file stem must be the dataset."""
    contracts: dict[str, Contract] = {}
    for name, text in sorted(texts.items()):
        contract = parse_contract(name, text)
        stem = Path(name).stem
        if contract.dataset != stem:
            raise ContractError(f"{name}: dataset '{contract.dataset}' must match the file name")
        contracts[contract.dataset] = contract
    for contract in contracts.values():
        for ref in contract.references - set(contracts):
            raise ContractError(f"{contract.source_file}: references unknown dataset '{ref}'")
    return contracts


def load_contracts_dir(directory: str | Path) -> dict[str, Contract]:
    """Load every ``*.yaml`` contract in a local directory; errors name a file as
    ``<directory's name>/<file>`` (``contracts/reviews.yaml``), as the jobs do."""
    paths = sorted(Path(directory).glob("*.yaml"))
    if not paths:
        raise ContractError(f"{directory}: no contracts (*.yaml) found")
    root = Path(directory).resolve().name
    return load_contracts({f"{root}/{p.name}": p.read_text(encoding="utf-8") for p in paths})


def default_contracts_dir() -> Path:
    """The contracts/ directory beside the ``jobs`` package, used when no other is given: the
    checkout's, or, for a package imported from ``jobs.zip``, the one beside the zip (deploy
    uploads both to the scripts bucket)."""
    package_parent = Path(__file__).resolve().parents[2]
    if package_parent.suffix == ".zip":
        return package_parent.parent / "contracts"
    return package_parent / "contracts"
