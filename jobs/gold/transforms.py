"""Gold marts: pure DataFrame transforms from silver tables, one per business rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

MONEY = "decimal(18,2)"
RATING = "decimal(4,2)"
VELOCITY_WINDOW_DAYS = 28
REORDER_COVER_DAYS = 14
UNKNOWN_COUNTRY = "Unknown"


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


def _money(column: Column) -> Column:
    """Round half-up to cents (Spark's ROUND on decimals is HALF_UP) and fix the type."""
    return F.round(column, 2).cast(MONEY)


def _is_sale() -> Column:
    return ~F.col("is_cancellation")


def _sales_date() -> Column:
    # The session time zone is UTC (jobs.common.runtime), so this is the UTC calendar day.
    return F.to_date("invoiced_at")


def last_sales_date(order_lines: DataFrame) -> DataFrame:
    """The default observation end: the last UTC day with any order line.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines.

    Returns
    -------
    DataFrame
        One row, one column ``observation_end`` (date; null when there are no lines).
    """
    return order_lines.agg(F.max(_sales_date()).alias("observation_end"))


def daily_sales_by_country(order_lines: DataFrame) -> DataFrame:
    """Sales per UTC day and country, cancellations booked on their own day.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines (all lines, products and non-products alike).

    Returns
    -------
    DataFrame
        One row per ``sales_date`` x ``country`` with any line: orders, units,
        gross_revenue, cancelled_value, net_revenue, customers, avg_order_value.
    """
    sale = _is_sale()
    totals = (
        order_lines.withColumn("sales_date", _sales_date())
        # A key column without nulls: silver does not require a country on every line.
        .withColumn("country", F.coalesce(F.col("country"), F.lit(UNKNOWN_COUNTRY)))
        .groupBy("sales_date", "country")
        .agg(
            F.countDistinct(F.when(sale, F.col("invoice_no"))).alias("orders"),
            F.coalesce(F.sum(F.when(sale, F.col("quantity"))), F.lit(0)).alias("units"),
            F.sum(F.when(sale, F.col("line_amount"))).alias("_gross"),
            F.sum(F.when(~sale, F.abs("line_amount"))).alias("_cancelled"),
            F.countDistinct(F.when(sale, F.col("customer_id"))).alias("customers"),
        )
    )
    gross = _money(F.coalesce(F.col("_gross"), F.lit(0)))
    cancelled = _money(F.coalesce(F.col("_cancelled"), F.lit(0)))
    return totals.select(
        "sales_date",
        "country",
        "orders",
        F.col("units").cast("bigint").alias("units"),
        gross.alias("gross_revenue"),
        cancelled.alias("cancelled_value"),
        # From the rounded parts, so gross_revenue - cancelled_value = net_revenue holds exactly.
        (gross - cancelled).cast(MONEY).alias("net_revenue"),
        "customers",
        F.when(F.col("orders") > 0, _money(F.col("_gross") / F.col("orders"))).alias(
            "avg_order_value"
        ),
    )


def product_performance_by_month(
    order_lines: DataFrame,
    products: DataFrame | None = None,
    reviews: DataFrame | None = None,
) -> DataFrame:
    """Units, revenue, returns and ratings per product and calendar month.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines; only ``is_product`` lines count.
    products : DataFrame, optional
        Silver products (``stock_code``, ``description``, ``category``); without it the
        category is null.
    reviews : DataFrame, optional
        Silver reviews (``stock_code``, ``rating``, ``created_at``); without it
        review_count is 0 and avg_rating null.

    Returns
    -------
    DataFrame
        One row per ``stock_code`` x ``month`` with any product line (sale or cancellation).
    """
    sale = _is_sale()
    lines = order_lines.where(F.col("is_product")).withColumn(
        "month", F.trunc(_sales_date(), "month")
    )
    monthly = lines.groupBy("stock_code", "month").agg(
        F.coalesce(F.sum(F.when(sale, F.col("quantity"))), F.lit(0))
        .cast("bigint")
        .alias("units_sold"),
        _money(F.coalesce(F.sum(F.when(sale, F.col("line_amount"))), F.lit(0))).alias("revenue"),
        F.coalesce(F.sum(F.when(~sale, F.abs("quantity"))), F.lit(0))
        .cast("bigint")
        .alias("units_returned"),
    )
    result = monthly.join(latest_description(lines), "stock_code", "left")
    if products is not None:
        catalogue = products.select(
            "stock_code", F.col("description").alias("_catalogue_description"), "category"
        )
        result = result.join(catalogue, "stock_code", "left")
    else:
        result = result.withColumn("_catalogue_description", F.lit(None).cast("string"))
        result = result.withColumn("category", F.lit(None).cast("string"))
    if reviews is not None:
        rated = (
            reviews.withColumn("month", F.trunc(F.to_date("created_at"), "month"))
            .groupBy("stock_code", "month")
            .agg(
                F.count(F.lit(1)).alias("review_count"),
                F.round(F.avg("rating"), 2).cast(RATING).alias("avg_rating"),
            )
        )
        result = result.join(rated, ["stock_code", "month"], "left")
    else:
        result = result.withColumn("review_count", F.lit(None).cast("bigint"))
        result = result.withColumn("avg_rating", F.lit(None).cast(RATING))
    return result.select(
        "stock_code",
        "month",
        F.coalesce("_line_description", "_catalogue_description").alias("description"),
        "category",
        "units_sold",
        "revenue",
        "units_returned",
        F.when(F.col("units_sold") > 0, F.col("units_returned") / F.col("units_sold")).alias(
            "return_rate"
        ),
        F.coalesce(F.col("review_count"), F.lit(0)).cast("bigint").alias("review_count"),
        "avg_rating",
    )


def latest_description(lines: DataFrame) -> DataFrame:
    """The description on each stock code's latest line that has one.

    Parameters
    ----------
    lines : DataFrame
        Order lines (``stock_code``, ``description``, ``invoiced_at``).

    Returns
    -------
    DataFrame
        One row per stock code with a described line: ``stock_code``, ``_line_description``;
        ties on the timestamp go to the greater text, so the same silver gives the same name.
    """
    # max of (timestamp, text) is one aggregate over few groups; measured cheaper than a hash
    # aggregate of the latest timestamp joined back to the lines.
    latest = F.max(F.struct("invoiced_at", "description"))["description"]
    return (
        lines.where(F.col("description").isNotNull())
        .groupBy("stock_code")
        .agg(latest.alias("_line_description"))
    )


def inventory_days_of_cover(
    inventory: DataFrame,
    order_lines: DataFrame,
    window_days: int = VELOCITY_WINDOW_DAYS,
    reorder_cover_days: int = REORDER_COVER_DAYS,
) -> DataFrame:
    """Stock on hand against the trailing sales velocity of each snapshot.

    Parameters
    ----------
    inventory : DataFrame
        Silver inventory snapshots.
    order_lines : DataFrame
        Silver order lines; non-cancelled quantities of the stock code in any country.
    window_days : int
        Length of the velocity window, ending on the snapshot date inclusive.
    reorder_cover_days : int
        Stock position (on hand + on order) below this many days of demand needs a reorder.

    Returns
    -------
    DataFrame
        One row per inventory row (``stock_code`` x ``warehouse`` x ``snapshot_date``).
    """
    day_number = F.unix_date(F.col("day"))
    daily = (
        order_lines.where(_is_sale())
        .groupBy("stock_code", _sales_date().alias("day"))
        .agg(F.sum("quantity").alias("units"))
        .withColumn("is_snapshot", F.lit(False))
    )
    snapshots = (
        inventory.select("stock_code", F.col("snapshot_date").alias("day"))
        .distinct()
        .withColumn("units", F.lit(0).cast("bigint"))
        .withColumn("is_snapshot", F.lit(True))
    )
    # A range frame over day numbers sums the sales of the window_days calendar days ending on
    # each snapshot day in one sort, instead of a range join of snapshots against sales days.
    trailing = (
        Window.partitionBy("stock_code").orderBy(day_number).rangeBetween(-(window_days - 1), 0)
    )
    velocity = (
        daily.unionByName(snapshots)
        .withColumn("units_sold_28d", F.sum("units").over(trailing))
        .where(F.col("is_snapshot"))
        .select("stock_code", F.col("day").alias("snapshot_date"), "units_sold_28d")
    )
    per_day = F.col("units_sold_28d") / F.lit(float(window_days))
    on_order = F.coalesce(F.col("on_order"), F.lit(0))
    stocked = inventory.join(velocity, ["stock_code", "snapshot_date"], "left").select(
        "snapshot_date",
        "stock_code",
        "warehouse",
        "on_hand",
        "on_order",
        F.col("units_sold_28d").cast("bigint").alias("units_sold_28d"),
        per_day.alias("avg_daily_units_28d"),
    )
    velocity_positive = F.col("avg_daily_units_28d") > 0
    is_stock_out = F.col("on_hand") <= 0
    short_cover = velocity_positive & (
        (F.col("on_hand") + on_order) / F.col("avg_daily_units_28d") < reorder_cover_days
    )
    return stocked.select(
        "*",
        F.when(velocity_positive, F.col("on_hand") / F.col("avg_daily_units_28d")).alias(
            "days_of_cover"
        ),
        is_stock_out.alias("is_stock_out"),
        ((is_stock_out & (on_order <= 0)) | short_cover).alias("needs_reorder"),
    )


def customer_invoice_days(order_lines: DataFrame, observation_end: date) -> DataFrame:
    """Each customer's invoices per UTC day up to the observation end: the customer marts' input.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines.
    observation_end : date
        Last UTC day included.

    Returns
    -------
    DataFrame
        One row per ``customer_id`` x ``sales_date`` x ``invoice_no`` x ``is_cancellation`` of
        the lines with a customer: ``amount`` (sum of line_amount) and ``abs_amount`` (sum of
        its absolute values), sales and cancellations alike.
    """
    # Aggregating to invoices first means each customer mart scans the lines once and reuses
    # this one shuffle for all its branches.
    return (
        order_lines.where(F.col("customer_id").isNotNull())
        .withColumn("sales_date", _sales_date())
        .where(F.col("sales_date") <= F.lit(observation_end))
        .groupBy("customer_id", "sales_date", "invoice_no", "is_cancellation")
        .agg(
            F.sum("line_amount").alias("amount"),
            F.sum(F.abs("line_amount")).alias("abs_amount"),
        )
    )


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


def customer_rfm_segments(order_lines: DataFrame, observation_end: date) -> DataFrame:
    """Recency, frequency and monetary scores and segment per customer.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines.
    observation_end : date
        The as-of day: later lines are ignored; recency is counted to this day.

    Returns
    -------
    DataFrame
        One row per customer with at least one non-cancelled line up to observation_end.
    """
    sale = _is_sale()
    customers = (
        customer_invoice_days(order_lines, observation_end)
        .groupBy("customer_id")
        .agg(
            F.max(F.when(sale, F.col("sales_date"))).alias("last_purchase_date"),
            F.countDistinct(F.when(sale, F.col("invoice_no"))).alias("frequency"),
            F.sum(F.when(sale, F.col("amount")).otherwise(-F.col("abs_amount"))).alias("_net"),
        )
        .where(F.col("last_purchase_date").isNotNull())
        .select(
            "customer_id",
            "last_purchase_date",
            F.datediff(F.lit(observation_end), "last_purchase_date").alias("recency_days"),
            "frequency",
            _money(F.col("_net")).alias("monetary"),
        )
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


def customer_lifetime_summary(order_lines: DataFrame, observation_end: date) -> DataFrame:
    """The lifetimes library's per-day frequency, recency, T and monetary_value per customer.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines; non-cancelled lines with a customer are the transactions.
    observation_end : date
        The end of the observation period (inclusive); later transactions are ignored.

    Returns
    -------
    DataFrame
        One row per customer with a purchase on or before observation_end.
    """
    purchases = customer_invoice_days(order_lines, observation_end).where(_is_sale())
    days = purchases.groupBy("customer_id", "sales_date").agg(F.sum("amount").alias("day_amount"))
    per_customer = days.groupBy("customer_id").agg(
        F.min("sales_date").alias("first_purchase_date"),
        F.max("sales_date").alias("last_purchase_date"),
        (F.count(F.lit(1)) - 1).cast("int").alias("frequency"),
        F.sum("day_amount").alias("_all_days"),
        F.min_by("day_amount", "sales_date").alias("_first_day"),
    )
    orders = purchases.groupBy("customer_id").agg(
        F.countDistinct("invoice_no").alias("orders"),
        F.sum("amount").alias("_revenue"),
    )
    # Exact decimal sum of the repeat days, then one division in double: lifetimes' mean of the
    # repeat days' sums, without accumulating float error.
    repeat_mean = (F.col("_all_days") - F.col("_first_day")).cast("double") / F.col("frequency")
    return per_customer.join(orders, "customer_id").select(
        "customer_id",
        "frequency",
        F.datediff("last_purchase_date", "first_purchase_date").alias("recency"),
        F.datediff(F.lit(observation_end), "first_purchase_date").alias("T"),
        F.when(F.col("frequency") > 0, repeat_mean).otherwise(F.lit(0.0)).alias("monetary_value"),
        "first_purchase_date",
        "last_purchase_date",
        "orders",
        _money(F.col("_revenue")).alias("total_revenue"),
        F.lit(observation_end).alias("observation_end"),
    )


def monthly_cohort_retention(order_lines: DataFrame, observation_end: date) -> DataFrame:
    """Share of each first-purchase-month cohort buying again N months later.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines; non-cancelled lines with a customer count as activity.
    observation_end : date
        The last day counted; each cohort gets one row per month up to this day's month.

    Returns
    -------
    DataFrame
        One row per ``cohort_month`` x ``months_since`` from 0 to the observation end's month,
        months without activity included with 0 active customers.
    """
    active = (
        customer_invoice_days(order_lines, observation_end)
        .where(_is_sale())
        .select("customer_id", F.trunc("sales_date", "month").alias("activity_month"))
        .distinct()
    )
    cohorts = active.groupBy("customer_id").agg(F.min("activity_month").alias("cohort_month"))
    months_since = F.months_between("activity_month", "cohort_month").cast("int")
    activity = (
        active.join(cohorts, "customer_id")
        .groupBy("cohort_month", months_since.alias("months_since"))
        .agg(F.count(F.lit(1)).alias("active_customers"))
    )
    last_month = F.trunc(F.lit(observation_end), "month")
    grid = (
        cohorts.groupBy("cohort_month")
        .agg(F.count(F.lit(1)).alias("cohort_size"))
        .withColumn(
            "months_since",
            F.explode(
                F.sequence(F.lit(0), F.months_between(last_month, "cohort_month").cast("int"))
            ),
        )
    )
    return grid.join(activity, ["cohort_month", "months_since"], "left").select(
        "cohort_month",
        "months_since",
        "cohort_size",
        F.coalesce(F.col("active_customers"), F.lit(0)).cast("bigint").alias("active_customers"),
        (F.coalesce(F.col("active_customers"), F.lit(0)) / F.col("cohort_size")).alias(
            "retention_rate"
        ),
    )
