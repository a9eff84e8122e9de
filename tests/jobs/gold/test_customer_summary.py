"""The customer summary and cohort counts updated for rewritten days equal those of the activity
after the rewrite, computed independently from the order lines in Python, whenever the update
says it is exact; and it says so for a plain day of new sales.

Hypothesis draws order lines over a few weeks (invoices spanning midnight, cancellations, lines
without a customer) and a rewrite of some days (their lines kept, dropped, added, an invoice
number used again on another day), as silver's rewrites of day partitions can leave them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.frames import rows
from jobs.gold.customers import customer_activity
from jobs.gold.summary import cohort_counts, cohorts_after, summarize, summary_after

ORDER_LINES = (
    "invoice_no string, stock_code string, description string, quantity int, "
    "invoiced_at timestamp, customer_id bigint, country string, is_cancellation boolean, "
    "is_product boolean, line_amount decimal(18,3)"
)
START = date(2024, 1, 29)


@dataclass(frozen=True)
class Line:
    invoice: str
    customer: int | None
    at: datetime
    amount: Decimal

    @property
    def cancelled(self) -> bool:
        return self.invoice.startswith("C")

    @property
    def day(self) -> date:
        return self.at.date()

    def row(self) -> tuple[Any, ...]:
        # The amount as a float: jobs.common.frames writes its shortest exact text (two
        # decimals here), which the JVM reads into the decimal column.
        return (self.invoice, "85123A", None, 1, self.at, self.customer, "UK",
                self.cancelled, True, float(self.amount))  # fmt: skip


@st.composite
def lines(draw: st.DrawFn, invoices: range, days: int) -> Line:
    number = draw(st.sampled_from(invoices))
    invoice = f"{'C' if draw(st.booleans()) and number % 3 == 0 else ''}{number}"
    day = START + timedelta(days=draw(st.integers(0, days - 1)))
    # Near midnight now and then, so an invoice's lines can fall on two days.
    minute = draw(st.sampled_from([5, 600, 1430, 1439]))
    at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute)
    customer = draw(st.one_of(st.none(), st.integers(1, 6)))
    cents = draw(st.integers(1, 5000))
    amount = Decimal(cents * (-1 if invoice.startswith("C") else 1)) / 100
    return Line(invoice, customer, at, amount.quantize(Decimal("0.001")))


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Line], set[date], list[Line]]:
    """Published lines, the days rewritten, and those days' lines after the rewrite."""
    old = draw(st.lists(lines(range(100, 130), 40), min_size=1, max_size=40))
    days = {START + timedelta(days=d) for d in draw(st.sets(st.integers(0, 44), max_size=4))}
    kept = [x for x in old if x.day in days and draw(st.booleans())]
    # New lines on the rewritten days: new invoices, and old numbers used again.
    new = draw(st.lists(lines(range(110, 140), 45), max_size=12))
    return old, days, kept + [x for x in new if x.day in days]


def frame(spark: SparkSession, lines: list[Line]) -> DataFrame:
    """The lines as silver's order lines, built in the JVM (no Python worker starts)."""
    return rows(spark, [x.row() for x in lines], ORDER_LINES)


def expected_summary(rows: list[Line]) -> dict[int, tuple[Any, ...]]:
    """Per customer: first and last sale day, sale days, sale invoices, revenue, the first sale
    day's revenue, and sales less cancellations' absolute amounts."""
    by_customer: dict[int, list[Line]] = defaultdict(list)
    for x in rows:
        if x.customer is not None:
            by_customer[x.customer].append(x)
    result = {}
    for customer, mine in by_customer.items():
        sales = [x for x in mine if not x.cancelled]
        first = min((x.day for x in sales), default=None)
        result[customer] = (
            first,
            max((x.day for x in sales), default=None),
            len({x.day for x in sales}),
            len({x.invoice for x in sales}),
            sum((x.amount for x in sales), Decimal(0)),
            sum((x.amount for x in sales if x.day == first), Decimal(0)) if sales else None,
            sum((x.amount if not x.cancelled else -abs(x.amount) for x in mine), Decimal(0)),
        )
    return result


def expected_cohorts(rows: list[Line]) -> dict[tuple[date, date], int]:
    months: dict[int, set[date]] = defaultdict(set)
    for x in rows:
        if x.customer is not None and not x.cancelled:
            months[x.customer].add(x.day.replace(day=1))
    counts: dict[tuple[date, date], int] = defaultdict(int)
    for active in months.values():
        for month in active:
            counts[(min(active), month)] += 1
    return dict(counts)


def summary_of(summary: DataFrame) -> dict[int, tuple[Any, ...]]:
    columns = ["first_sale_day", "last_sale_day", "sale_days", "sale_invoices", "revenue"]
    columns += ["first_day_revenue", "net"]
    return {r["customer_id"]: tuple(r[c] for c in columns) for r in summary.collect()}


def update(
    spark: SparkSession, old: list[Line], days: set[date], rewritten: list[Line]
) -> tuple[DataFrame, DataFrame]:
    """The updated summary (with ``_exact``) and cohort counts, as an incremental run makes them."""
    months = {d.replace(day=1) for d in days}
    before_lines = [x for x in old if x.day.replace(day=1) in months]
    after_lines = [x for x in before_lines if x.day not in days] + rewritten
    before = customer_activity(frame(spark, before_lines))
    after = customer_activity(frame(spark, after_lines))
    on_days = F.col("activity_date").isin(*sorted(days)) if days else F.lit(False)
    published = customer_activity(frame(spark, old))
    summary = summary_after(
        summarize(published), before.where(on_days), after.where(on_days), days
    ).cache()
    cohorts = cohorts_after(cohort_counts(published), summary.drop("_exact"), before, after)
    return summary, cohorts


@pytest.mark.timeout(600)
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_an_update_said_exact_equals_the_rewritten_activity(
    spark: SparkSession, history: tuple[list[Line], set[date], list[Line]]
) -> None:
    old, days, rewritten = history
    now = [x for x in old if x.day not in days] + rewritten
    summary, cohorts = update(spark, old, days, rewritten)
    if summary.where(~F.col("_exact")).count():
        return  # the run summarizes the whole activity again
    assert summary_of(summary) == expected_summary(now)
    counts = {(r[0], r[1]): r[2] for r in cohorts.collect()}
    assert counts == expected_cohorts(now)


def test_a_day_of_new_sales_updates_exactly(spark: SparkSession) -> None:
    """The common delivery, a day after the history with invoices numbered after it (an old
    customer, a new one, a cancellation), takes the update, not a rebuild."""
    at = datetime(2024, 2, 1, 10, tzinfo=UTC)
    old = [
        Line("100", 1, at, Decimal("10.000")),
        Line("101", 1, at + timedelta(days=3), Decimal("5.000")),
        Line("102", 2, at + timedelta(days=3), Decimal("7.500")),
        Line("C103", 2, at + timedelta(days=4), Decimal("-2.000")),
    ]
    day = at + timedelta(days=30)  # the next month: a new cohort month for customer 3
    new = [
        Line("104", 1, day, Decimal("3.000")),
        Line("105", 3, day, Decimal("4.000")),
        Line("C106", 2, day, Decimal("-1.000")),
    ]
    summary, cohorts = update(spark, old, {day.date()}, new)
    assert summary.where(~F.col("_exact")).count() == 0
    assert summary_of(summary) == expected_summary(old + new)
    assert {(r[0], r[1]): r[2] for r in cohorts.collect()} == expected_cohorts(old + new)


def test_invoice_numbers_past_a_digit_count_still_update_exactly(spark: SparkSession) -> None:
    """1000000 comes after 999999 (text order says before): a shop's next invoice is not taken
    for an old one, and the update stays exact."""
    at = datetime(2024, 2, 1, 10, tzinfo=UTC)
    old = [Line("999998", 1, at, Decimal("10.000")), Line("999999", 1, at, Decimal("2.000"))]
    new = [Line("1000000", 1, at + timedelta(days=1), Decimal("3.000"))]
    summary, cohorts = update(spark, old, {(at + timedelta(days=1)).date()}, new)
    assert summary.where(~F.col("_exact")).count() == 0
    assert summary_of(summary) == expected_summary(old + new)
    assert {(r[0], r[1]): r[2] for r in cohorts.collect()} == expected_cohorts(old + new)
    # An old number sent again on another day is still caught.
    again = [Line("999998", 1, at + timedelta(days=1), Decimal("3.000"))]
    summary, _ = update(spark, old, {(at + timedelta(days=1)).date()}, again)
    assert summary.where(~F.col("_exact")).count() == 1
