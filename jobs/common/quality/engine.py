"""A batch through the quality engine: its row checks, the aggregates they need, the verdicts.

Pure functions of DataFrames and plain values. Silver computes ``batch_aggregates`` while it
stages a batch (an observation, no pass of its own) and ``distinct_aggregates`` over the staged
copy; ``batch_stats`` and ``verdicts`` turn those values into one verdict per rule.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.common.contracts import Contract, Rule
from jobs.common.quality.checks import RowCheck, in_scope, ref_flag
from jobs.common.quality.dataset_rules import DATASET_RULES, Batch, Values
from jobs.common.quality.implicit import unparsed_flags
from jobs.common.quality.row_rules import row_rule_check
from jobs.common.quality.verdicts import Verdict, row_verdict, skipped_verdict

IMPLICIT_TYPES = {"well_formed", "parseable"}


def has_reference(rule: Rule, references: Collection[str]) -> bool:
    """Whether a rule's referenced dataset was found (``references``: the joined ``ref_flag``s)."""
    return rule.reference is not None and ref_flag(rule) in references


def row_checks(
    contract: Contract, implicit: Sequence[RowCheck], pii: set[str], references: Collection[str]
) -> list[RowCheck]:
    """The implicit checks, then one per row rule that can run (a foreign key needs its
    referenced dataset: without it the rule is skipped, see ``verdicts``)."""
    checks = list(implicit)
    unparsed = unparsed_flags(contract)
    for rule in contract.row_rules:
        check = row_rule_check(rule, pii, unparsed, has_reference(rule, references))
        if check is not None:
            checks.append(check)
    return checks


def apply_row_checks(frame: DataFrame, checks: Sequence[RowCheck]) -> DataFrame:
    """Add ``dq_failed_rules``/``dq_reasons`` (error rules) and ``dq_warnings`` (warn rules).

    A malformed line is judged by the well-formed rule alone: its other values mean nothing.
    """
    malformed = F.col("_corrupt_record").isNotNull()

    def failed(check: RowCheck) -> Column:
        if check.rule_type == "well_formed":
            return check.failed
        return ~malformed & F.coalesce(check.failed, F.lit(False))

    def labelled(check: RowCheck) -> Column:
        return F.concat(F.lit(f"{check.rule_id}: "), check.reason)

    def names(values: list[Column]) -> Column:
        # array<string> even with no rule of a severity: an empty F.array() is array<void>,
        # which Parquet cannot store
        return F.array_compact(F.array(*values)).cast("array<string>")

    errors = [c for c in checks if c.severity == "error"]
    warnings = [c for c in checks if c.severity == "warn"]
    return frame.select(
        "*",
        names([F.when(failed(c), F.lit(c.rule_id)) for c in errors]).alias("dq_failed_rules"),
        names([F.when(failed(c), labelled(c)) for c in errors]).alias("dq_reasons"),
        names([F.when(failed(c), F.lit(c.rule_id)) for c in warnings]).alias("dq_warnings"),
    )


def clean_rows() -> Column:
    """True for a row no error-severity row rule failed: the rows silver keeps."""
    return F.size("dq_failed_rules") == 0


def _prefix(i: int) -> str:
    return f"ds_{i}_"


def batch_aggregates(
    contract: Contract, checks: Sequence[RowCheck], references: Collection[str]
) -> list[Column]:
    """Rows in, quarantined and flagged, failures per row check, and every dataset rule's
    values: aggregates that can be observed while the checked batch is written."""
    clean = clean_rows()
    aggs = [
        F.count(F.lit(1)).alias("rows_in"),
        F.sum(F.when(~clean, 1).otherwise(0)).alias("quarantined"),
        F.sum(F.when(clean & (F.size("dq_warnings") > 0), 1).otherwise(0)).alias("flagged"),
    ]
    for i, check in enumerate(checks):
        rule_failed = F.array_contains(
            "dq_failed_rules" if check.severity == "error" else "dq_warnings", check.rule_id
        )
        aggs.append(F.sum(F.when(rule_failed, 1).otherwise(0)).alias(f"row_{i}"))
    for i, rule in enumerate(contract.dataset_rules):
        kind = DATASET_RULES[rule.type]
        scope = clean & in_scope(rule)
        aggs += kind.aggregates(rule, scope, _prefix(i), has_reference(rule, references))
    return aggs


def distinct_aggregates(contract: Contract) -> list[Column]:
    """The distinct counts dataset rules need; they cannot be observed (see silver's staging)."""
    aggs: list[Column] = []
    for i, rule in enumerate(contract.dataset_rules):
        distinct = DATASET_RULES[rule.type].distinct
        if distinct is not None:
            aggs += distinct(rule, clean_rows() & in_scope(rule), _prefix(i))
    return aggs


def batch_stats(values: Mapping[str, Any]) -> dict[str, Any]:
    """The aggregated values with the batch's counts as ints (a sum over no rows is NULL)."""
    stats = dict(values)
    stats["rows_in"] = int(stats["rows_in"])
    stats["quarantined"] = int(stats["quarantined"] or 0)
    stats["flagged"] = int(stats["flagged"] or 0)
    stats["clean"] = stats["rows_in"] - stats["quarantined"]
    return stats


def verdicts(
    contract: Contract,
    stats: Mapping[str, Any],
    checks: Sequence[RowCheck],
    references: Collection[str],
    today: date,
) -> list[Verdict]:
    """One verdict per row check, per row rule that could not run, and per dataset rule."""
    rows_in = stats["rows_in"]
    out = [
        row_verdict(c, "parse" if c.rule_type in IMPLICIT_TYPES else "row", rows_in,
                    int(stats[f"row_{i}"] or 0))
        for i, c in enumerate(checks)
    ]  # fmt: skip
    ran = {c.rule_id for c in checks}
    for rule in contract.row_rules:
        if rule.id not in ran and rule.reference is not None:
            out.append(skipped_verdict(rule, f"skipped: {rule.reference.dataset} is not in silver"))
    for i, rule in enumerate(contract.dataset_rules):
        batch = Batch(rows_in, stats["quarantined"], has_reference(rule, references), today)
        out.append(DATASET_RULES[rule.type].verdict(rule, Values(stats, _prefix(i)), batch))
    return out
