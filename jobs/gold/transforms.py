"""Gold marts: pure DataFrame transforms from silver tables, one per business rule."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

MONEY = "decimal(18,2)"
RATING = "decimal(4,2)"
VELOCITY_WINDOW_DAYS = 28
REORDER_COVER_DAYS = 14
UNKNOWN_COUNTRY = "Unknown"


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
    lines = order_lines.where(F.col("is_product"))
    return finish_product_months(
        product_month_totals(order_lines),
        latest_description(lines).select("stock_code", "_line_description"),
        products,
        None if reviews is None else review_ratings(reviews),
    )


def product_day_totals(order_lines: DataFrame) -> DataFrame:
    """The order-line sums of each product and UTC sales day: what gold keeps between runs to
    rebuild a month's product totals without reading the month's order lines again.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines (of some days or all); only ``is_product`` lines count.

    Returns
    -------
    DataFrame
        One row per ``stock_code`` x ``sales_date``: ``units_sold``, ``units_returned``
        (bigint) and ``revenue_sum``, the exact sum of the sales' line amounts (rounded only
        per month, by :func:`product_month_totals_of_days`, so a month's revenue is the same
        whether summed from its lines or from its days).
    """
    sale = _is_sale()
    lines = order_lines.where(F.col("is_product")).withColumn("sales_date", _sales_date())
    return lines.groupBy("stock_code", "sales_date").agg(
        F.coalesce(F.sum(F.when(sale, F.col("quantity"))), F.lit(0))
        .cast("bigint")
        .alias("units_sold"),
        # line_amount's exact sum, in the type Spark gives it (no rounding here).
        F.coalesce(F.sum(F.when(sale, F.col("line_amount"))), F.lit(0)).alias("revenue_sum"),
        F.coalesce(F.sum(F.when(~sale, F.abs("quantity"))), F.lit(0))
        .cast("bigint")
        .alias("units_returned"),
    )


def product_month_totals_of_days(days: DataFrame) -> DataFrame:
    """The order-line part of ``product_monthly`` from :func:`product_day_totals` rows.

    Returns
    -------
    DataFrame
        One row per ``stock_code`` x ``month`` (``date``, the month's first day): units sold,
        revenue (rounded to cents once, from the exact sum) and units returned.
    """
    return (
        days.withColumn("month", F.trunc("sales_date", "month"))
        .groupBy("stock_code", "month")
        .agg(
            F.sum("units_sold").cast("bigint").alias("units_sold"),
            _money(F.sum("revenue_sum")).alias("revenue"),
            F.sum("units_returned").cast("bigint").alias("units_returned"),
        )
    )


def product_month_totals(order_lines: DataFrame) -> DataFrame:
    """The order-line part of ``product_monthly``: units sold, revenue and units returned.

    Parameters
    ----------
    order_lines : DataFrame
        Silver order lines; only ``is_product`` lines count.

    Returns
    -------
    DataFrame
        One row per ``stock_code`` x ``month`` (``date``, the month's first day). Summed
        through :func:`product_day_totals`, as an incremental run sums them.
    """
    return product_month_totals_of_days(product_day_totals(order_lines))


def review_ratings(reviews: DataFrame) -> DataFrame:
    """Each product's reviews per calendar month: ``review_count`` and ``avg_rating``."""
    return (
        reviews.withColumn("month", F.trunc(F.to_date("created_at"), "month"))
        .groupBy("stock_code", "month")
        .agg(
            F.count(F.lit(1)).cast("bigint").alias("review_count"),
            F.round(F.avg("rating"), 2).cast(RATING).alias("avg_rating"),
        )
    )


def finish_product_months(
    totals: DataFrame,
    descriptions: DataFrame,
    products: DataFrame | None,
    ratings: DataFrame | None,
) -> DataFrame:
    """``product_monthly`` from its order-line totals, the products and the review ratings.

    Parameters
    ----------
    totals : DataFrame
        :func:`product_month_totals` (of some or all months).
    descriptions : DataFrame
        ``stock_code``, ``_line_description``: each stock code's latest line description.
    products : DataFrame, optional
        Silver products (``stock_code``, ``description``, ``category``); without it the
        category is null.
    ratings : DataFrame, optional
        :func:`review_ratings` of the months' reviews (or the ratings ``product_monthly``
        already holds for months whose reviews did not change); without it review_count is 0
        and avg_rating null.

    Returns
    -------
    DataFrame
        One row per row of ``totals``, with description, category and ratings.
    """
    result = totals.join(descriptions, "stock_code", "left")
    if products is not None:
        catalogue = products.select(
            "stock_code", F.col("description").alias("_catalogue_description"), "category"
        )
        result = result.join(catalogue, "stock_code", "left")
    else:
        result = result.withColumn("_catalogue_description", F.lit(None).cast("string"))
        result = result.withColumn("category", F.lit(None).cast("string"))
    if ratings is not None:
        result = result.join(ratings, ["stock_code", "month"], "left")
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
        Order lines (``stock_code``, ``description``, ``invoiced_at``), or rows of this
        function's own result (its ``_latest`` column is the same pair): the latest of a
        union of results is the latest of all their lines, so gold keeps it incrementally.

    Returns
    -------
    DataFrame
        One row per stock code with a described line: ``stock_code``, ``_line_description`` and
        ``_latest`` (``invoiced_at``, ``description``); ties on the timestamp go to the greater
        text, so the same silver gives the same name.
    """
    # max of (timestamp, text) is one aggregate over few groups; measured cheaper than a hash
    # aggregate of the latest timestamp joined back to the lines.
    pair = (
        F.col("_latest") if "_latest" in lines.columns else F.struct("invoiced_at", "description")
    )
    described = pair["description"].isNotNull()
    return (
        lines.where(described)
        .groupBy("stock_code")
        .agg(F.max(pair).alias("_latest"))
        .select("stock_code", F.col("_latest")["description"].alias("_line_description"), "_latest")
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
