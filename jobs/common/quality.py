"""The quality engine: contract rules as Spark column expressions, and dataset rules as verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.common.contracts import Column as ContractColumn
from jobs.common.contracts import Contract, Rule


def parse_rule_id(contract: Contract, column: ContractColumn) -> str:
    return f"{contract.dataset}_{column.name}_parseable"


def well_formed_rule_id(contract: Contract) -> str:
    return f"{contract.dataset}_well_formed"


def ref_flag(rule: Rule) -> str:
    """Name of the boolean column telling whether a row's foreign key was found."""
    assert rule.reference is not None
    return f"_ref_{rule.column}__{rule.reference.dataset}__{rule.reference.column}"


@dataclass(frozen=True)
class RowCheck:
    """A row-level check: the rule, and a column that is true where a row fails it."""

    rule_id: str
    rule_type: str
    severity: str
    target: str
    failed: Column
    reason: Column


def _null_policy(rule: Rule, value: Column, verdict: Column) -> Column:
    """Apply the rule's NULL policy: a NULL value (or verdict) fails only when nulls: fail."""
    fails_on_null = F.lit(rule.nulls == "fail")
    return F.when(value.isNull(), fails_on_null).otherwise(F.coalesce(verdict, fails_on_null))


def _shown(value: Column, pii: bool) -> Column:
    return F.lit("<pii>") if pii else F.coalesce(value.cast("string"), F.lit("NULL"))


def row_rule_check(
    rule: Rule, pii: set[str], unparsed: Mapping[str, Column], has_reference: bool
) -> RowCheck | None:
    """The check for one row rule, or None when it cannot run (its reference is absent)."""
    col = F.col(rule.column) if rule.column else F.lit(None)
    shown = _shown(col, rule.column in pii) if rule.column else F.lit("")
    failed: Column
    if rule.type == "not_null":
        failed, reason = col.isNull(), F.lit(f"{rule.column} is missing")
    elif rule.type == "accepted_values":
        failed = _null_policy(rule, col, ~col.cast("string").isin(list(rule.values)))
        reason = F.format_string(f"{rule.column} %s is not one of {list(rule.values)}", shown)
    elif rule.type == "range":
        bad = F.lit(False)
        if rule.min is not None:
            bad = bad | (col < F.lit(rule.min))
        if rule.max is not None:
            bad = bad | (col > F.lit(rule.max))
        failed = _null_policy(rule, col, bad)
        reason = F.format_string(f"{rule.column} %s is outside [{rule.min}, {rule.max}]", shown)
    elif rule.type == "regex":
        assert rule.pattern is not None
        failed = _null_policy(rule, col, ~col.cast("string").rlike(rule.pattern))
        reason = F.format_string(f"{rule.column} %s does not match {rule.pattern}", shown)
    elif rule.type == "length":
        length = F.length(col.cast("string"))
        bad = F.lit(False)
        if rule.min is not None:
            bad = bad | (length < F.lit(int(rule.min)))
        if rule.max is not None:
            bad = bad | (length > F.lit(int(rule.max)))
        failed = _null_policy(rule, col, bad)
        reason = F.format_string(
            f"{rule.column} has length %s, allowed [{rule.min}, {rule.max}]",
            F.coalesce(length.cast("string"), F.lit("NULL")),
        )
    elif rule.type == "expression":
        assert rule.expression is not None
        verdict = F.expr(rule.expression)
        failed = _null_policy(rule, verdict, ~verdict)
        reason = F.lit(f"fails: {rule.expression}")
    elif rule.type == "unique":
        count = F.count(F.lit(1)).over(_window_by(rule.column or ""))
        failed = _null_policy(rule, col, count > 1)
        reason = F.format_string(f"{rule.column} %s appears more than once in the batch", shown)
    elif rule.type == "foreign_key":
        if not has_reference:
            return None
        assert rule.reference is not None
        failed = _null_policy(rule, col, ~F.col(ref_flag(rule)))
        reason = F.format_string(
            f"{rule.column} %s not found in {rule.reference.dataset}.{rule.reference.column}",
            shown,
        )
    else:  # pragma: no cover - contracts are validated on load
        raise ValueError(f"unknown row rule type {rule.type}")
    if rule.where:
        failed = F.coalesce(F.expr(rule.where), F.lit(False)) & failed
    if rule.column and rule.column in unparsed:
        # A value that could not be parsed is reported once, by its parse rule.
        failed = failed & ~unparsed[rule.column]
    return RowCheck(rule.id, rule.type, rule.severity, rule.target, failed, reason)


def _window_by(column: str):
    from pyspark.sql import Window

    return Window.partitionBy(column)


@dataclass(frozen=True)
class Verdict:
    """One rule's result for one run: what was checked, what failed, and the status."""

    rule_id: str
    rule_type: str
    scope: str
    severity: str
    target: str
    checked: int
    failed: int
    threshold: float | None
    status: str
    message: str

    @property
    def fail_ratio(self) -> float:
        return self.failed / self.checked if self.checked else 0.0

    def record(self, run_id: str, dataset: str, evaluated_at: str) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "dataset": dataset,
            "rule_id": self.rule_id,
            "rule_type": self.rule_type,
            "scope": self.scope,
            "severity": self.severity,
            "target": self.target,
            "checked": self.checked,
            "failed": self.failed,
            "fail_ratio": round(self.fail_ratio, 6),
            "threshold": self.threshold,
            "status": self.status,
            "message": self.message,
            "evaluated_at": evaluated_at,
        }


def _status(ok: bool, severity: str) -> str:
    """A rule that holds passes; one that does not warns or fails by its severity."""
    return "pass" if ok else ("warn" if severity == "warn" else "fail")


def row_verdict(check: RowCheck, scope: str, checked: int, failed: int) -> Verdict:
    """A row rule passes when no row fails it; otherwise it quarantined or flagged rows."""
    status = _status(failed == 0, check.severity)
    action = "quarantined" if check.severity == "error" else "flagged"
    message = f"{failed} of {checked} rows {action}" if failed else f"all {checked} rows pass"
    return Verdict(
        check.rule_id, check.rule_type, scope, check.severity, check.target, checked, failed,
        None, status, message,
    )  # fmt: skip


def ratio_verdict(rule: Rule, checked: int, failed: int, what: str) -> Verdict:
    """Verdict for a ratio rule (completeness, uniqueness, referential integrity, quarantine)."""
    limit = rule.max_fail_ratio or 0.0
    ratio = failed / checked if checked else 0.0
    ok = ratio <= limit
    status = _status(ok, rule.severity)
    message = (
        f"{what}: {failed} of {checked} rows ({ratio:.2%}), "
        f"{'within' if ok else 'over'} the limit of {limit:.2%}"
    )
    return Verdict(
        rule.id, rule.type, "dataset", rule.severity, rule.target, checked, failed, limit,
        status, message,
    )  # fmt: skip


def row_count_verdict(rule: Rule, rows: int) -> Verdict:
    low = rule.min_rows if rule.min_rows is not None else 0
    ok = rows >= low and (rule.max_rows is None or rows <= rule.max_rows)
    status = _status(ok, rule.severity)
    bounds = f"[{low}, {rule.max_rows if rule.max_rows is not None else 'inf'}]"
    message = f"{rows} rows, expected {bounds}"
    return Verdict(
        rule.id, rule.type, "dataset", rule.severity, rule.target, rows, 0 if ok else 1,
        float(low), status, message,
    )  # fmt: skip


def freshness_verdict(rule: Rule, latest: date | None, today: date) -> Verdict:
    limit = rule.max_age_days or 0
    if latest is None:
        age, ok, message = None, False, f"no {rule.column} values to judge freshness"
    else:
        age = (today - latest).days
        ok = age <= limit
        message = f"latest {rule.column} is {latest.isoformat()}, {age} days old (max {limit})"
    status = _status(ok, rule.severity)
    return Verdict(
        rule.id, rule.type, "dataset", rule.severity, rule.target, 1, 0 if ok else 1,
        float(limit), status, message,
    )  # fmt: skip


def skipped_verdict(rule: Rule, why: str) -> Verdict:
    return Verdict(
        rule.id, rule.type, rule.scope, rule.severity, rule.target, 0, 0, rule.max_fail_ratio,
        "skipped", why,
    )  # fmt: skip


def gate_failures(verdicts: list[Verdict]) -> list[str]:
    """Error-severity dataset rules that failed, each with by how much, for the job's error."""
    return [
        f"{v.rule_id} ({v.message})"
        for v in verdicts
        if v.scope == "dataset" and v.status == "fail"
    ]


def schema_drift_rule_id(contract: Contract) -> str:
    return f"{contract.dataset}_schema_drift"


@dataclass(frozen=True)
class SchemaDrift:
    """Columns that appeared (the files bring them, the contract does not name them) or
    disappeared (the contract names them, the files lack them), each with the files, out of
    ``files`` files compared."""

    files: int
    appeared: dict[str, list[str]]
    disappeared: dict[str, list[str]]

    @property
    def drifted_files(self) -> int:
        return len({f for files in (*self.appeared.values(), *self.disappeared.values())
                    for f in files})  # fmt: skip

    def summary(self) -> dict[str, dict[str, list[str]]]:
        return {"appeared": self.appeared, "disappeared": self.disappeared}


def schema_drift(contract: Contract, columns: Mapping[str, list[str]]) -> SchemaDrift:
    """Compare each file's own columns (``columns``: file -> names, from the bronze manifest)
    with the contract's source columns: by name in any case for CSV (bronze maps headers so),
    by exact name for JSON keys."""

    def key(name: str) -> str:
        return name if contract.format == "jsonl" else name.lower()

    appeared: dict[str, list[str]] = {}
    disappeared: dict[str, list[str]] = {}
    spelled = {key(name): name for name in contract.source_columns}
    for path in sorted(columns):
        names = {key(name): name for name in reversed(columns[path])}
        for found in sorted(set(names) - set(spelled)):
            appeared.setdefault(names[found], []).append(path)
        for lacking in sorted(set(spelled) - set(names)):
            disappeared.setdefault(spelled[lacking], []).append(path)
    return SchemaDrift(len(columns), appeared, disappeared)


def _listed(changes: dict[str, list[str]], most: int = 3) -> str:
    """``Notes (a.csv, b.csv), Channel (c.csv and 4 more)``: file names, not whole paths."""
    shown = []
    for column, files in changes.items():
        names = ", ".join(f.rsplit("/", 1)[-1] for f in files[:most])
        more = f" and {len(files) - most} more" if len(files) > most else ""
        shown.append(f"{column} ({names}{more})")
    return ", ".join(shown)


def schema_drift_verdict(contract: Contract, drift: SchemaDrift) -> Verdict:
    """Warn (``on_schema_change: warn``) or fail (``fail``) when any file's columns differ."""
    severity = "error" if contract.on_schema_change == "fail" else "warn"
    ok = not drift.appeared and not drift.disappeared
    parts = []
    if drift.appeared:
        parts.append(f"columns appeared: {_listed(drift.appeared)}")
    if drift.disappeared:
        parts.append(f"columns disappeared: {_listed(drift.disappeared)}")
    message = "; ".join(parts) if parts else f"all {drift.files} files have the contract's columns"
    status = _status(ok, severity)
    if not drift.files:
        # Batches bronze ingested before it recorded each file's columns.
        status, message = "skipped", "skipped: no file of the batches has its columns recorded"
    target = ",".join([*drift.appeared, *drift.disappeared])
    return Verdict(
        schema_drift_rule_id(contract), "schema_drift", "dataset", severity, target, drift.files,
        drift.drifted_files, None, status, message,
    )  # fmt: skip
