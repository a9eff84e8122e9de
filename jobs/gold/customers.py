"""Gold's customer marts, built from a compact table of customer activity (one row per day).

The activity table (``customer_activity``: customer x UTC day x invoice, its lines and amounts,
about one row per customer and day) is what gold keeps between runs: a run rebuilds only the
days silver rewrote, and RFM, the lifetime summary and the cohorts read this table, not the
order lines. A full refresh builds the same table from all of silver, so both paths share the
marts' code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.gold.summary import cohort_counts, summarize
from jobs.gold.transforms import _money, _sales_date


@dataclass(frozen=True)
class SegmentRule:
    """One row of the RFM segment table: inclusive score ranges for R, F and M."""

    segment: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]


# First match wins, so the narrower Champions / Can't Lose Them rows come before the wider
# Loyal / At Risk rows they overlap with. Every R x F pair is covered; "Others" is the fallback
# for scores outside 1-5 or a table edited with gaps.
RFM_SEGMENTS: tuple[SegmentRule, ...] = (
    SegmentRule("Champions", (4, 5), (4, 5), (4, 5)),
    SegmentRule("Loyal", (3, 5), (4, 5), (1, 5)),
    SegmentRule("Potential Loyalist", (4, 5), (2, 3), (1, 5)),
    SegmentRule("New", (5, 5), (1, 1), (1, 5)),
    SegmentRule("Promising", (4, 4), (1, 1), (1, 5)),
    SegmentRule("Need Attention", (3, 3), (3, 3), (1, 5)),
    SegmentRule("About To Sleep", (3, 3), (1, 2), (1, 5)),
    SegmentRule("Can't Lose Them", (1, 2), (4, 5), (4, 5)),
    SegmentRule("At Risk", (1, 2), (3, 5), (1, 5)),
    SegmentRule("Lost", (1, 2), (1, 2), (1, 5)),
)
OTHER_SEGMENT = "Others"
ACTIVITY_GRAIN = ("customer_id", "activity_date", "invoice_no", "is_cancellation")


def customer_activity(order_lines: DataFrame) -> DataFrame:
    """Each customer's invoices per UTC day: the compact input of every customer mart.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines (all of them, or those of some days).

    Returns
    -------
    DataFrame
        One row per ``customer_id`` x ``activity_date`` x ``invoice_no`` x ``is_cancellation``
        of the lines with a customer: ``lines``, ``amount`` (sum of line_amount) and
        ``abs_amount`` (sum of its absolute values), sales and cancellations alike. A customer
        has about one invoice a day, so this is about one row per customer and day; keeping
        the invoice number counts an invoice whose lines fall on two days once, as a scan of
        the lines does.
    """
    return (
        order_lines.where(F.col("customer_id").isNotNull())
        .groupBy(
            "customer_id", _sales_date().alias("activity_date"), "invoice_no", "is_cancellation"
        )
        .agg(
            F.count(F.lit(1)).alias("lines"),
            F.sum("line_amount").cast("decimal(28,3)").alias("amount"),
            F.sum(F.abs("line_amount")).cast("decimal(28,3)").alias("abs_amount"),
        )
    )


def _until(activity: DataFrame, observation_end: date) -> DataFrame:
    return activity.where(F.col("activity_date") <= F.lit(observation_end))


def rfm_segment(r: Column, f: Column, m: Column) -> Column:
    """The segment of the first RFM_SEGMENTS rule whose three score ranges all match.

    Parameters
    ----------
    r, f, m : Column
        Integer scores 1-5.

    Returns
    -------
    Column
        The segment name, ``Others`` when no rule matches.
    """
    segment: Column | None = None
    for rule in RFM_SEGMENTS:
        matches = r.between(*rule.r) & f.between(*rule.f) & m.between(*rule.m)
        segment = (
            F.when(matches, F.lit(rule.segment))
            if segment is None
            else segment.when(matches, F.lit(rule.segment))
        )
    assert segment is not None
    return segment.otherwise(F.lit(OTHER_SEGMENT))


def rfm_from_summary(summary: DataFrame, observation_end: date) -> DataFrame:
    """Recency, frequency and monetary scores and segment per customer.

    Parameters
    ----------
    summary : DataFrame
        :func:`jobs.gold.summary.summarize` of the activity up to observation_end.
    observation_end : date
        The as-of day: recency is counted to this day.

    Returns
    -------
    DataFrame
        One row per customer with at least one non-cancelled line up to observation_end.
    """
    customers = summary.where(F.col("last_sale_day").isNotNull()).select(
        "customer_id",
        F.col("last_sale_day").alias("last_purchase_date"),
        F.datediff(F.lit(observation_end), "last_sale_day").alias("recency_days"),
        F.col("sale_invoices").alias("frequency"),
        _money(F.col("net")).alias("monetary"),
    )
    # ntile needs one global order; ties go by customer_id so a re-run scores the same.
    by_recency = Window.orderBy(F.col("recency_days").desc(), "customer_id")
    by_frequency = Window.orderBy("frequency", "customer_id")
    by_monetary = Window.orderBy("monetary", "customer_id")
    scored = customers.select(
        "*",
        F.ntile(5).over(by_recency).alias("r_score"),
        F.ntile(5).over(by_frequency).alias("f_score"),
        F.ntile(5).over(by_monetary).alias("m_score"),
    )
    r, f, m = F.col("r_score"), F.col("f_score"), F.col("m_score")
    return scored.select(
        "*",
        F.concat(r.cast("string"), f.cast("string"), m.cast("string")).alias("rfm_score"),
        rfm_segment(r, f, m).alias("segment"),
        F.lit(observation_end).alias("observation_end"),
    )


def lifetime_from_summary(summary: DataFrame, observation_end: date) -> DataFrame:
    """The lifetimes library's per-day frequency, recency, T and monetary_value per customer.

    Parameters
    ----------
    summary : DataFrame
        :func:`jobs.gold.summary.summarize` of the activity up to observation_end; days with a
        sale are the transactions.
    observation_end : date
        The end of the observation period (inclusive).

    Returns
    -------
    DataFrame
        One row per customer with a purchase on or before observation_end.
    """
    frequency = (F.col("sale_days") - 1).cast("int")
    # Exact decimal sum of the repeat days, then one division in double: lifetimes' mean of the
    # repeat days' sums, without accumulating float error.
    repeat = (F.col("revenue") - F.col("first_day_revenue")).cast("double") / frequency
    return summary.where(F.col("first_sale_day").isNotNull()).select(
        "customer_id",
        frequency.alias("frequency"),
        F.datediff("last_sale_day", "first_sale_day").alias("recency"),
        F.datediff(F.lit(observation_end), "first_sale_day").alias("T"),
        F.when(frequency > 0, repeat).otherwise(F.lit(0.0)).alias("monetary_value"),
        F.col("first_sale_day").alias("first_purchase_date"),
        F.col("last_sale_day").alias("last_purchase_date"),
        F.col("sale_invoices").alias("orders"),
        _money(F.col("revenue")).alias("total_revenue"),
        F.lit(observation_end).alias("observation_end"),
    )


def cohorts_from_counts(counts: DataFrame, observation_end: date) -> DataFrame:
    """Share of each first-purchase-month cohort buying again N months later.

    Parameters
    ----------
    counts : DataFrame
        :func:`jobs.gold.summary.cohort_counts` of the activity up to observation_end.
    observation_end : date
        The last day counted; each cohort gets one row per month up to this day's month.

    Returns
    -------
    DataFrame
        One row per ``cohort_month`` x ``months_since`` from 0 to the observation end's month,
        months without activity included with 0 active customers.
    """
    months_since = F.months_between("activity_month", "cohort_month").cast("int")
    activity_counts = counts.select(
        "cohort_month",
        months_since.alias("months_since"),
        F.col("customers").alias("active_customers"),
    )
    # Every customer is active in its cohort month, once: month 0 counts the cohort.
    cohorts = activity_counts.where(F.col("months_since") == 0).select(
        "cohort_month", F.col("active_customers").alias("cohort_size")
    )
    last_month = F.trunc(F.lit(observation_end), "month")
    grid = cohorts.withColumn(
        "months_since",
        F.explode(F.sequence(F.lit(0), F.months_between(last_month, "cohort_month").cast("int"))),
    )
    return grid.join(activity_counts, ["cohort_month", "months_since"], "left").select(
        "cohort_month",
        "months_since",
        "cohort_size",
        F.coalesce(F.col("active_customers"), F.lit(0)).cast("bigint").alias("active_customers"),
        (F.coalesce(F.col("active_customers"), F.lit(0)) / F.col("cohort_size")).alias(
            "retention_rate"
        ),
    )


def rfm_from_activity(activity: DataFrame, observation_end: date) -> DataFrame:
    """:func:`rfm_from_summary` of the activity up to observation_end."""
    return rfm_from_summary(summarize(_until(activity, observation_end)), observation_end)


def lifetime_from_activity(activity: DataFrame, observation_end: date) -> DataFrame:
    """:func:`lifetime_from_summary` of the activity up to observation_end."""
    return lifetime_from_summary(summarize(_until(activity, observation_end)), observation_end)


def cohorts_from_activity(activity: DataFrame, observation_end: date) -> DataFrame:
    """:func:`cohorts_from_counts` of the activity up to observation_end."""
    return cohorts_from_counts(cohort_counts(_until(activity, observation_end)), observation_end)


def customer_rfm_segments(order_lines: DataFrame, observation_end: date) -> DataFrame:
    """:func:`rfm_from_activity` straight from silver order lines."""
    return rfm_from_activity(customer_activity(order_lines), observation_end)


def customer_lifetime_summary(order_lines: DataFrame, observation_end: date) -> DataFrame:
    """:func:`lifetime_from_activity` straight from silver order lines."""
    return lifetime_from_activity(customer_activity(order_lines), observation_end)


def monthly_cohort_retention(order_lines: DataFrame, observation_end: date) -> DataFrame:
    """:func:`cohorts_from_activity` straight from silver order lines."""
    return cohorts_from_activity(customer_activity(order_lines), observation_end)
