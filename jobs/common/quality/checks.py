"""What every rule shares: a row check's shape, the NULL policy, a rule's scope (``where``)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.common.contracts import Rule


@dataclass(frozen=True)
class RowCheck:
    """A row-level check: the rule, and a column that is true where a row fails it."""

    rule_id: str
    rule_type: str
    severity: str
    target: str
    failed: Column
    reason: Column


def ref_flag(rule: Rule) -> str:
    """Name of the boolean column telling whether a row's foreign key was found."""
    assert rule.reference is not None
    return f"_ref_{rule.column}__{rule.reference.dataset}__{rule.reference.column}"


def null_policy(rule: Rule, value: Column, verdict: Column) -> Column:
    """Apply the rule's NULL policy: a NULL value (or verdict) fails only when nulls: fail."""
    fails_on_null = F.lit(rule.nulls == "fail")
    return F.when(value.isNull(), fails_on_null).otherwise(F.coalesce(verdict, fails_on_null))


def shown(value: Column, pii: bool) -> Column:
    """A value as a reason shows it: ``<pii>`` for a PII column, ``NULL`` for a missing one."""
    return F.lit("<pii>") if pii else F.coalesce(value.cast("string"), F.lit("NULL"))


def in_scope(rule: Rule) -> Column:
    """A rule's ``where``, false where it is NULL; true without one."""
    return F.coalesce(F.expr(rule.where), F.lit(False)) if rule.where else F.lit(True)
