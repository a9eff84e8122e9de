"""Row rule types: for each, the column true where a row fails it, and the reason it gives.

A rule type is a function of the rule and its ``Target`` (the value, as shown in reasons) that
returns ``(failed, reason)``, or None when it cannot run. ``row_rule_check`` then applies what
every row rule shares: the rule's ``where`` and the parse rule's precedence. NULL: ``not_null``
fails on it by definition; every other type passes a NULL value unless ``nulls: fail``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from jobs.common.contracts import Rule
from jobs.common.quality.checks import RowCheck, in_scope, null_policy, ref_flag, shown


@dataclass(frozen=True)
class Target:
    """The value a row rule checks, how its reasons show it, and whether a reference is read."""

    value: Column
    shown: Column
    has_reference: bool


Failure = tuple[Column, Column]
RowRuleType = Callable[[Rule, Target], Failure | None]


def not_null(rule: Rule, t: Target) -> Failure:
    """The value is present (``nulls`` does not apply: NULL is what it checks)."""
    return t.value.isNull(), F.lit(f"{rule.column} is missing")


def accepted_values(rule: Rule, t: Target) -> Failure:
    """The value, as a string, is one of ``values``."""
    failed = null_policy(rule, t.value, ~t.value.cast("string").isin(list(rule.values)))
    reason = F.format_string(f"{rule.column} %s is not one of {list(rule.values)}", t.shown)
    return failed, reason


def value_range(rule: Rule, t: Target) -> Failure:
    """``min`` <= value <= ``max`` (either bound may be left out)."""
    bad = F.lit(False)
    if rule.min is not None:
        bad = bad | (t.value < F.lit(rule.min))
    if rule.max is not None:
        bad = bad | (t.value > F.lit(rule.max))
    reason = F.format_string(f"{rule.column} %s is {bounds(rule)}", t.shown)
    return null_policy(rule, t.value, bad), reason


def bounds(rule: Rule) -> str:
    """What the value must be, as a reason says it: ``outside [0, 10]``, or for an open range
    ``not >= 0`` / ``not <= 100`` (a bound written 0 shows as 0, not 0.0)."""

    def shown_bound(bound: float) -> str:
        return str(int(bound)) if float(bound).is_integer() else str(bound)

    if rule.min is not None and rule.max is not None:
        return f"outside [{shown_bound(rule.min)}, {shown_bound(rule.max)}]"
    if rule.min is not None:
        return f"not >= {shown_bound(rule.min)}"
    if rule.max is not None:
        return f"not <= {shown_bound(rule.max)}"
    return "outside no bounds"  # a rule without bounds fails no row


def regex(rule: Rule, t: Target) -> Failure:
    """The value, as a string, contains a match of ``pattern`` (Java regex, ``rlike``)."""
    assert rule.pattern is not None
    failed = null_policy(rule, t.value, ~t.value.cast("string").rlike(rule.pattern))
    reason = F.format_string(f"{rule.column} %s does not match {rule.pattern}", t.shown)
    return failed, reason


def length(rule: Rule, t: Target) -> Failure:
    """``min`` <= the value's length in characters <= ``max``."""
    size = F.length(t.value.cast("string"))
    bad = F.lit(False)
    if rule.min is not None:
        bad = bad | (size < F.lit(int(rule.min)))
    if rule.max is not None:
        bad = bad | (size > F.lit(int(rule.max)))
    reason = F.format_string(
        f"{rule.column} has length %s, {bounds(rule).replace('outside', 'allowed')}",
        F.coalesce(size.cast("string"), F.lit("NULL")),
    )
    return null_policy(rule, t.value, bad), reason


def expression(rule: Rule, t: Target) -> Failure:
    """A Spark SQL predicate holds; a NULL result is judged by ``nulls``."""
    assert rule.expression is not None
    verdict = F.expr(rule.expression)
    return null_policy(rule, verdict, ~verdict), F.lit(f"fails: {rule.expression}")


def unique(rule: Rule, t: Target) -> Failure:
    """The value appears once in the batch (NULLs by ``nulls``)."""
    count = F.count(F.lit(1)).over(Window.partitionBy(rule.column or ""))
    reason = F.format_string(f"{rule.column} %s appears more than once in the batch", t.shown)
    return null_policy(rule, t.value, count > 1), reason


def foreign_key(rule: Rule, t: Target) -> Failure | None:
    """The value is a key of the referenced silver dataset; None (skipped) when it is absent.

    The lookup is a column the engine joins in beforehand (``ref_flag``).
    """
    if not t.has_reference:
        return None
    assert rule.reference is not None
    reason = F.format_string(
        f"{rule.column} %s not found in {rule.reference.dataset}.{rule.reference.column}",
        t.shown,
    )
    return null_policy(rule, t.value, ~F.col(ref_flag(rule))), reason


ROW_RULES: dict[str, RowRuleType] = {
    "not_null": not_null,
    "unique": unique,
    "accepted_values": accepted_values,
    "range": value_range,
    "regex": regex,
    "length": length,
    "expression": expression,
    "foreign_key": foreign_key,
}


def row_rule_check(
    rule: Rule, pii: set[str], unparsed: Mapping[str, Column], has_reference: bool
) -> RowCheck | None:
    """The check for one row rule, or None when it cannot run (its reference is absent).

    ``unparsed`` maps a typed column to its could-not-parse flag: a value that could not be
    parsed is reported once, by its parse rule, not again by this one.
    """
    value = F.col(rule.column) if rule.column else F.lit(None)
    display = shown(value, rule.column in pii) if rule.column else F.lit("")
    found = ROW_RULES[rule.type](rule, Target(value, display, has_reference))
    if found is None:
        return None
    failed, reason = found
    if rule.where:
        failed = in_scope(rule) & failed
    if rule.column and rule.column in unparsed:
        failed = failed & ~unparsed[rule.column]
    return RowCheck(rule.id, rule.type, rule.severity, rule.target, failed, reason)
