"""Dataset rule types: for each, the aggregate it needs over a batch and the verdict it gives.

A batch's aggregates are computed in one pass, observed while silver stages the batch; each
rule names its values with a prefix of its own (``ds_<i>_``). Only clean rows (no error-severity
row rule failed) count, and only those the rule's ``where`` holds for. Distinct counts cannot be
observed: a rule type that needs one says so in ``distinct`` and gets it from the staged copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.common.contracts import Rule
from jobs.common.quality.checks import ref_flag
from jobs.common.quality.verdicts import Verdict, ratio_verdict, skipped_verdict, status


@dataclass(frozen=True)
class Batch:
    """What a dataset rule's verdict may read besides its own values."""

    rows_in: int
    quarantined: int
    has_reference: bool
    today: date

    @property
    def clean(self) -> int:
        return self.rows_in - self.quarantined


class Values:
    """One rule's aggregated values (``checked``, ``failed``...), without the prefix."""

    def __init__(self, stats: Mapping[str, Any], prefix: str) -> None:
        self.stats = stats
        self.prefix = prefix

    def count(self, name: str) -> int:
        return int(self.stats.get(f"{self.prefix}{name}") or 0)

    def get(self, name: str) -> Any:
        return self.stats.get(f"{self.prefix}{name}")


def _count_where(condition: Column, alias: str) -> Column:
    return F.sum(F.when(condition, 1).otherwise(0)).alias(alias)


Aggregates = Callable[[Rule, Column, str, bool], list[Column]]
Distinct = Callable[[Rule, Column, str], list[Column]]
Judge = Callable[[Rule, Values, Batch], Verdict]


@dataclass(frozen=True)
class DatasetRuleType:
    """A dataset rule type: its aggregates (``rule, rows in scope, prefix, has reference``),
    its distinct counts (from the staged copy), and its verdict."""

    aggregates: Aggregates
    verdict: Judge
    distinct: Distinct | None = None


# --- row_count: clean rows within [min_rows, max_rows]; NULLs are rows like any other -------
def _row_count_verdict(rule: Rule, values: Values, batch: Batch) -> Verdict:
    rows = batch.clean
    low = rule.min_rows if rule.min_rows is not None else 0
    ok = rows >= low and (rule.max_rows is None or rows <= rule.max_rows)
    bounds = f"[{low}, {rule.max_rows if rule.max_rows is not None else 'inf'}]"
    return Verdict(
        rule.id, rule.type, "dataset", rule.severity, rule.target, rows, 0 if ok else 1,
        float(low), status(ok, rule.severity), f"{rows} rows, expected {bounds}",
    )  # fmt: skip


# --- completeness: NULLs of the column among clean rows in scope, at most max_fail_ratio -----
def _completeness_aggregates(rule: Rule, scope: Column, prefix: str, _: bool) -> list[Column]:
    return [
        _count_where(scope, f"{prefix}checked"),
        _count_where(scope & F.col(rule.column or "").isNull(), f"{prefix}failed"),
    ]


def _completeness_verdict(rule: Rule, values: Values, batch: Batch) -> Verdict:
    what = f"{rule.column} missing"
    return ratio_verdict(rule, values.count("checked"), values.count("failed"), what)


# --- uniqueness: repeats of the key among clean rows in scope (NULL is a value), at most ratio -
def _uniqueness_aggregates(rule: Rule, scope: Column, prefix: str, _: bool) -> list[Column]:
    return [_count_where(scope, f"{prefix}checked")]


def _uniqueness_distinct(rule: Rule, scope: Column, prefix: str) -> list[Column]:
    """Distinct keys in scope.

    Distinct 64-bit hashes rather than distinct structs: a hash aggregate instead of a sort; a
    collision (odds ~n²/2⁶⁵) could only hide a repeat, never invent one. PII columns are hashed
    in the staged copy by then, which keeps distinct values distinct.
    """
    key = F.xxhash64(*[F.col(c) for c in rule.columns])
    return [F.count_distinct(F.when(scope, key)).alias(f"{prefix}distinct")]


def _uniqueness_verdict(rule: Rule, values: Values, batch: Batch) -> Verdict:
    checked = values.count("checked")
    repeats = checked - values.count("distinct")
    return ratio_verdict(rule, checked, repeats, f"repeated {rule.target}")


# --- referential_integrity: non-NULL keys not in the referenced dataset; skipped without it --
def _reference_aggregates(rule: Rule, scope: Column, prefix: str, has_ref: bool) -> list[Column]:
    if rule.reference is None:
        return []
    checked = scope & F.col(rule.column or "").isNotNull()
    if not has_ref:
        return [_count_where(checked, f"{prefix}checked")]
    return [
        _count_where(checked, f"{prefix}checked"),
        _count_where(checked & ~F.col(ref_flag(rule)), f"{prefix}failed"),
    ]


def _reference_verdict(rule: Rule, values: Values, batch: Batch) -> Verdict:
    assert rule.reference is not None  # validated on load
    if not batch.has_reference:
        return skipped_verdict(rule, f"skipped: {rule.reference.dataset} is not in silver")
    what = f"{rule.column} not in {rule.reference.dataset}"
    return ratio_verdict(rule, values.count("checked"), values.count("failed"), what)


# --- freshness: the latest date of the column (NULLs ignored) at most max_age_days old -------
def _freshness_aggregates(rule: Rule, scope: Column, prefix: str, _: bool) -> list[Column]:
    # Observed values cross py4j as Java objects: strings and numbers only.
    latest = F.max(F.when(scope, F.to_date(rule.column or "")))
    return [latest.cast("string").alias(f"{prefix}latest")]


def _freshness_verdict(rule: Rule, values: Values, batch: Batch) -> Verdict:
    limit = rule.max_age_days or 0
    found = values.get("latest")
    if not found:
        ok, message = False, f"no {rule.column} values to judge freshness"
    else:
        latest = date.fromisoformat(str(found))
        age = (batch.today - latest).days
        ok = age <= limit
        message = f"latest {rule.column} is {latest.isoformat()}, {age} days old (max {limit})"
    return Verdict(
        rule.id, rule.type, "dataset", rule.severity, rule.target, 1, 0 if ok else 1,
        float(limit), status(ok, rule.severity), message,
    )  # fmt: skip


# --- quarantine_ratio: rows quarantined of rows in, at most max_fail_ratio -------------------
def _quarantine_verdict(rule: Rule, values: Values, batch: Batch) -> Verdict:
    return ratio_verdict(rule, batch.rows_in, batch.quarantined, "rows quarantined")


def _none(rule: Rule, scope: Column, prefix: str, has_ref: bool) -> list[Column]:
    return []


DATASET_RULES: dict[str, DatasetRuleType] = {
    "row_count": DatasetRuleType(_none, _row_count_verdict),
    "completeness": DatasetRuleType(_completeness_aggregates, _completeness_verdict),
    "uniqueness": DatasetRuleType(
        _uniqueness_aggregates, _uniqueness_verdict, _uniqueness_distinct
    ),
    "referential_integrity": DatasetRuleType(_reference_aggregates, _reference_verdict),
    "freshness": DatasetRuleType(_freshness_aggregates, _freshness_verdict),
    "quarantine_ratio": DatasetRuleType(_none, _quarantine_verdict),
}
