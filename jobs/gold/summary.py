"""Gold's per-customer summary and cohort counts, kept from run to run like the activity table.

The customer marts need, per customer, a handful of numbers (first and last purchase day,
purchase days, invoices, revenue) and, per cohort, how many of its customers bought in each
month. Computed from the customer-activity table, they cost a read of all of its history every
run. Instead gold keeps them (``customer_summary``: one row per customer; ``customer_cohorts``:
one row per cohort and active month) and an incremental run updates them from the activity of
the days it rewrote alone: what those days held before is taken off, what they hold now is
added.

Sums and counts of days are exact that way (the rewritten days and the others are disjoint);
the rest is exact only under conditions the update checks, customer by customer
(:func:`summary_after`): an invoice counted once across days, a first or last purchase day
that a rewritten day removed, a customer whose cohort moves. Where one fails for any customer
the run builds both tables from the whole activity table again, as a full refresh does; the
marts are then the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.gold.transforms import _is_sale

SUMMARY = "customer_summary"
COHORTS = "customer_cohorts"
TOTAL = "decimal(38,3)"
# Additive per customer: the rewritten days' values before are subtracted, after are added.
ADDITIVE = ("rows", "sale_days", "sale_pairs", "sale_invoices", "revenue", "net")
# Not exact after an update: the largest sale invoice number ever seen (in :func:`invoice_order`),
# an upper bound (a line taken away never lowers it). A full refresh and an incremental run may
# disagree on it.
BOUND = "max_invoice_bound"


def summarize(activity: DataFrame) -> DataFrame:
    """One row per customer of ``activity`` rows (all of them, or those of some days).

    Parameters
    ----------
    activity : DataFrame
        Rows of the customer-activity table (``jobs.gold.customers.customer_activity``).

    Returns
    -------
    DataFrame
        ``customer_id``; ``rows`` (activity rows); over the sale rows: ``first_sale_day``,
        ``last_sale_day`` (null without sales), ``sale_days`` (distinct days), ``sale_pairs``
        (invoice x day rows), ``sale_invoices`` (distinct invoices), ``max_invoice_bound``,
        ``revenue``, ``first_day_revenue`` (the first sale day's); ``net`` (sales less the
        absolute amount of cancellations, as RFM's monetary value counts them).
    """
    sale = _is_sale()
    day = F.col("activity_date")
    # One shuffle by customer serves the window and the aggregation after it. Sets, not
    # countDistinct: two distinct counts in one aggregation would expand every row twice.
    first_sale = F.min(F.when(sale, day)).over(Window.partitionBy("customer_id"))
    flagged = activity.select("*", (sale & (day == first_sale)).alias("_first"))
    return flagged.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("rows"),
        F.min(F.when(sale, day)).alias("first_sale_day"),
        F.max(F.when(sale, day)).alias("last_sale_day"),
        F.size(F.collect_set(F.when(sale, day))).cast("bigint").alias("sale_days"),
        F.count(F.when(sale, F.lit(1))).alias("sale_pairs"),
        F.size(F.collect_set(F.when(sale, F.col("invoice_no"))))
        .cast("bigint")
        .alias("sale_invoices"),
        F.max(F.when(sale, invoice_order(F.col("invoice_no")))).alias(BOUND),
        _total(F.when(sale, F.col("amount"))).alias("revenue"),
        F.sum(F.when(F.col("_first"), F.col("amount"))).cast(TOTAL).alias("first_day_revenue"),
        _total(F.when(sale, F.col("amount")).otherwise(-F.col("abs_amount"))).alias("net"),
    )


def invoice_order(invoice: Column) -> Column:
    """Invoice numbers in the order a shop gives them: a longer number is a later one (999999,
    then 1000000, which text order puts first), numbers of one length in text order."""
    return F.struct(F.length(invoice).alias("length"), invoice.alias("number"))


def _total(column: Column) -> Column:
    return F.coalesce(F.sum(column), F.lit(0)).cast(TOTAL)


def active_months(activity: DataFrame) -> DataFrame:
    """Each customer's months with a sale: ``customer_id``, ``activity_month``."""
    month = F.trunc("activity_date", "month").alias("activity_month")
    return activity.where(_is_sale()).select("customer_id", month).distinct()


def cohort_counts(activity: DataFrame) -> DataFrame:
    """Customers active per cohort (the month of their first sale) and month.

    Returns
    -------
    DataFrame
        ``cohort_month``, ``activity_month``, ``customers`` (bigint), months with activity only.
    """
    active = active_months(activity)
    # One shuffle by customer serves the cohort (the first active month) and the count after it.
    cohort = F.min("activity_month").over(Window.partitionBy("customer_id"))
    return (
        active.select(cohort.alias("cohort_month"), "activity_month")
        .groupBy("cohort_month", "activity_month")
        .agg(F.count(F.lit(1)).alias("customers"))
    )


def _prefixed(frame: DataFrame, prefix: str) -> DataFrame:
    named = [F.col(c).alias(f"{prefix}{c}") for c in frame.columns if c != "customer_id"]
    return frame.select("customer_id", *named)


def _in(column: Column, days: list[Column]) -> Column:
    return F.coalesce(column.isin(*days), F.lit(False))


def summary_after(
    summary: DataFrame, before: DataFrame, after: DataFrame, days: Iterable[date]
) -> DataFrame:
    """The summary once ``days`` are rewritten, with ``_exact``: false for a customer whose
    update cannot be exact (then the whole activity table must be summarized again).

    Parameters
    ----------
    summary : DataFrame
        The published summary (:func:`summarize` of the published activity).
    before, after : DataFrame
        The published activity rows of ``days``, and those rows as this run rebuilt them.
    days : iterable of date
        The days rewritten: each of their rows is in ``before`` or ``after``, none elsewhere.

    Returns
    -------
    DataFrame
        The summary's columns and ``_exact``, one row per customer with activity left.
    """
    d = [F.lit(day) for day in sorted(set(days))]
    old, new = summarize(before), summarize(after)
    touched = old.select("customer_id").unionByName(new.select("customer_id")).distinct()
    joined = (
        touched.join(_prefixed(summary, "s_"), "customer_id", "left")
        .join(_prefixed(old, "o_"), "customer_id", "left")
        .join(_prefixed(new, "n_"), "customer_id", "left")
        .join(_reused_invoices(summary, before, after), "customer_id", "left")
    )

    def col(prefix: str, name: str) -> Column:
        return F.coalesce(F.col(f"{prefix}{name}"), F.lit(0))

    # Sale days outside the rewritten ones, which this run cannot see.
    outside = col("s_", "sale_days") - col("o_", "sale_days")
    s_first, n_first = F.col("s_first_sale_day"), F.col("n_first_sale_day")
    s_last = F.col("s_last_sale_day")
    first, last = _ends(d, outside)
    exact = (
        # Every invoice on one day: an invoice of a rewritten day is on no other.
        (col("s_", "sale_pairs") == col("s_", "sale_invoices"))
        & F.col("_reused").isNull()
        # A rewritten day held the first (last) sale and no day of this run replaces it.
        & (first.isNotNull() | s_first.isNull() | (outside == 0))
        & (last.isNotNull() | s_last.isNull() | (outside == 0))
        # The cohort (month of the first sale) stays, or the customer had no sale before.
        & (s_first.isNull() | (F.trunc(first, "month") == F.trunc(s_first, "month")))
    )
    updated = joined.select(
        "customer_id",
        *[(col("s_", c) - col("o_", c) + col("n_", c)).alias(c) for c in ADDITIVE],
        first.alias("first_sale_day"),
        last.alias("last_sale_day"),
        F.greatest(F.col(f"s_{BOUND}"), F.col(f"n_{BOUND}")).alias(BOUND),
        F.when(first == n_first, F.col("n_first_day_revenue"))
        .otherwise(F.col("s_first_day_revenue"))
        .alias("first_day_revenue"),
        F.coalesce(exact, F.lit(False)).alias("_exact"),
    )
    kept = summary.join(touched, "customer_id", "left_anti").withColumn("_exact", F.lit(True))
    columns = [*summary.columns, "_exact"]
    typed = updated.select(
        *[
            updated[c].cast(summary.schema[c].dataType).alias(c) if c in summary.columns else c
            for c in columns
        ]
    )
    # A customer left without rows leaves the summary; one not exact stays, to be seen.
    return kept.select(*columns).unionByName(typed.where((F.col("rows") > 0) | ~F.col("_exact")))


def _ends(d: list[Column], outside: Column) -> tuple[Column, Column]:
    """The first and last sale day after the update; null where a rewritten day held the old
    one, no rewritten day replaces it and other days are left (they cannot be seen)."""
    s_first, n_first = F.col("s_first_sale_day"), F.col("n_first_sale_day")
    s_last, n_last = F.col("s_last_sale_day"), F.col("n_last_sale_day")
    first = (
        F.when(s_first.isNull() | (outside == 0), n_first)
        .when(~_in(s_first, d), F.least(s_first, n_first))
        .when(n_first <= s_first, n_first)
    )
    last = (
        F.when(s_last.isNull() | (outside == 0), n_last)
        .when(~_in(s_last, d), F.greatest(s_last, n_last))
        .when(n_last >= s_last, n_last)
    )
    return first, last


def _reused_invoices(summary: DataFrame, before: DataFrame, after: DataFrame) -> DataFrame:
    """Customers with a sale invoice in ``after`` that was not in ``before`` and may be one
    they had on another day: a number not above the largest they ever had."""
    sale = _is_sale()
    old = before.where(sale).select("customer_id", "invoice_no")
    new = after.where(sale).select("customer_id", "invoice_no").distinct()
    added = new.join(old, ["customer_id", "invoice_no"], "left_anti")
    return (
        added.join(summary.select("customer_id", BOUND), "customer_id")
        .where(invoice_order(F.col("invoice_no")) <= F.col(BOUND))
        .select("customer_id")
        .distinct()
        .withColumn("_reused", F.lit(True))
    )


def cohorts_after(
    cohorts: DataFrame, summary: DataFrame, before: DataFrame, after: DataFrame
) -> DataFrame:
    """The cohort counts once the months of ``before`` are replaced by those of ``after``.

    Exact where :func:`summary_after` was for every customer: no customer's cohort moved, so a
    customer's change of months outside these months is none.

    Parameters
    ----------
    cohorts : DataFrame
        The published :func:`cohort_counts`.
    summary : DataFrame
        The summary after this run (each customer's first sale day gives its cohort).
    before, after : DataFrame
        The published activity of whole months, and those months as this run staged them.
    """
    old, new = active_months(before), active_months(after)
    keys = ["customer_id", "activity_month"]
    change = (
        new.join(old, keys, "left_anti")
        .withColumn("_change", F.lit(1))
        .unionByName(old.join(new, keys, "left_anti").withColumn("_change", F.lit(-1)))
    )
    cohort = summary.select("customer_id", F.trunc("first_sale_day", "month").alias("cohort_month"))
    changed = change.join(cohort, "customer_id").select(
        "cohort_month", "activity_month", F.col("_change").cast("bigint").alias("customers")
    )
    return (
        cohorts.unionByName(changed)
        .groupBy("cohort_month", "activity_month")
        .agg(F.sum("customers").alias("customers"))
        .where(F.col("customers") != 0)
    )
