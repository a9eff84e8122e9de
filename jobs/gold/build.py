"""Gold's tables for one run: all of silver (full refresh) or only what changed (incremental).

Both paths share the transforms and stage every table the same way: a full refresh builds each
from all of silver; an incremental run rebuilds only the days and months silver rewrote
(``jobs.gold.plan``), merged into the published month partitions, and the customer marts from
the customer-activity table, which it keeps the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from jobs.common import frames
from jobs.common.lake import LakeFiles, LakePaths
from jobs.gold import transforms as t
from jobs.gold.changes import SilverChanges
from jobs.gold.customer_state import CustomerTables, Published, stage_rebuilt, stage_updated
from jobs.gold.customers import ACTIVITY_GRAIN, customer_activity
from jobs.gold.plan import Plan, days_of_months, month_of
from jobs.gold.publish import PARTITION, Beside, Publication, month_key
from jobs.gold.summary import COHORTS, SUMMARY, cohort_counts, summarize

ACTIVITY = "customer_activity"
DESCRIPTIONS = "product_descriptions"
PRODUCT_DAYS = "product_daily"  # each product's order-line sums per day
CATALOGUE = "product_catalogue"  # the products' attributes product_monthly last joined
SOLD = "product_codes"  # every stock code ever sold: a superset of product_monthly's codes
# Gold's own tables, not marts.
STATE = (ACTIVITY, SUMMARY, COHORTS, DESCRIPTIONS, PRODUCT_DAYS, CATALOGUE, SOLD)
# The marts that grow with time, partitioned by business month: their date column and grain.
PARTITIONED: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_daily": ("sales_date", ("sales_date", "country")),
    "product_monthly": ("month", ("stock_code", "month")),
    "inventory_health": ("snapshot_date", ("stock_code", "warehouse", "snapshot_date")),
    ACTIVITY: ("activity_date", ACTIVITY_GRAIN),
    PRODUCT_DAYS: ("sales_date", ("stock_code", "sales_date")),
}
CATALOGUE_COLUMNS = ("stock_code", "description", "category")
TOTALS = ("stock_code", "month", "units_sold", "revenue", "units_returned")


@dataclass
class Reader:
    """Reads silver and gold's own tables, counting every row it reads.

    Each read is of whole Parquet files (partition filters only), so its rows are the sum of
    the files' footers: read in the driver for a few files, counted by Spark for many. The
    counting runs beside the run, not in its way; :meth:`rows_read` waits for it, and must be
    called before the run publishes (publishing replaces files a count lists).
    """

    spark: SparkSession
    files: LakeFiles
    paths: LakePaths
    schemas: Mapping[str, StructType]
    rows: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    counting: Beside = field(default_factory=lambda: Beside("gold-rows-read"))

    def count(self, name: str, frame: DataFrame, locations: list[str]) -> DataFrame:
        """Add the rows of ``frame``, the read of ``locations``, to ``name``'s rows read."""
        self.counting.submit(self._count, name, frame, locations)
        return frame

    def _count(self, name: str, frame: DataFrame, locations: list[str]) -> None:
        counted = self.files.parquet_rows(locations)
        if counted is None:
            counted = int(frame.count())
        with self.lock:
            self.rows[name] = self.rows.get(name, 0) + counted

    def rows_read(self) -> dict[str, int]:
        """Every read's rows, by input, once every count has finished (its error, if one failed)."""
        self.counting.settle()
        return dict(sorted(self.rows.items()))

    def empty(self, dataset: str) -> DataFrame:
        return frames.empty(self.spark, self.schemas[dataset])

    def silver(self, dataset: str, folders: list[str] | None = None) -> DataFrame:
        """A silver table, whole (None) or only the given partition directories."""
        schema = self.schemas[dataset]
        root = self.paths.silver(dataset)
        if folders is not None and not folders:
            return self.empty(dataset)
        reader = self.spark.read.schema(schema).option("basePath", root)
        locations = [f"{root}/{f}" for f in folders] if folders else [root]
        frame = reader.parquet(*locations)
        return self.count(f"silver.{dataset}", frame.select(*schema.fieldNames()), locations)

    def table(
        self, name: str, path: str, schema: StructType, months: set[str] | None = None
    ) -> DataFrame:
        """One of gold's tables (a mart or its state): whole, or the given month partitions."""
        fields = [f for f in schema.fields if f.name != PARTITION]
        typed = StructType([*fields, StructField(PARTITION, StringType(), True)])
        folders = [f"{path}/{PARTITION}={m}" for m in sorted(months or ())]
        folders = [f for f in folders if self.files.exists(f)]
        if not self.files.exists(path) or (months is not None and not folders):
            return frames.empty(self.spark, typed)
        reader = self.spark.read.schema(typed).option("basePath", path)
        locations = folders if months is not None else [path]
        return self.count(f"gold.{name}", reader.parquet(*locations), locations)


def side_by_side(tasks: list[Callable[[], object]]) -> None:
    """Run the staging tasks in threads: one table's small single-task stages overlap
    another's scans (Spark runs the jobs of several threads at once)."""
    with ThreadPoolExecutor(max_workers=max(1, len(tasks))) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


def with_month(frame: DataFrame, column: str) -> DataFrame:
    return frame.withColumn(PARTITION, month_key(column))


def merge_days(existing: DataFrame, fresh: DataFrame, column: str, days: set[date]) -> DataFrame:
    """The published rows outside ``days`` and the recomputed rows of ``days``, by month."""
    replaced = [F.lit(d) for d in sorted(days)]
    kept = existing.where(~F.col(column).isin(*replaced))
    return kept.unionByName(with_month(fresh.where(F.col(column).isin(*replaced)), column))


# Stages the customer marts from their inputs (staged only when they are computed again).
Customers = Callable[[Callable[[], CustomerTables]], object]


def stage_full(
    publication: Publication,
    reader: Reader,
    inputs: Mapping[str, DataFrame],
    customers: Customers,
) -> None:
    """Stage every partitioned mart and gold's state from all of silver, and the customer marts
    (``customers``) from the activity as soon as it is staged, beside the other tables."""
    paths = reader.paths
    lines = inputs["order_lines"]
    products = lines.where(F.col("is_product"))
    built = {
        "sales_daily": t.daily_sales_by_country(lines),
        "product_monthly": t.finish_product_months(
            t.product_month_totals(lines),
            t.latest_description(products).select("stock_code", "_line_description"),
            inputs["products"],
            t.review_ratings(inputs["reviews"]),
        ),
        "inventory_health": t.inventory_days_of_cover(inputs["inventory"], lines),
        ACTIVITY: customer_activity(lines),
        PRODUCT_DAYS: t.product_day_totals(lines),
    }

    def stage(name: str) -> Callable[[], object]:
        column, grain = PARTITIONED[name]
        target = paths.gold_meta(name) if name in STATE else paths.gold(name)
        frame = with_month(built[name], column)
        if name == ACTIVITY:
            staged = publication.staged(ACTIVITY)
            whole = lambda: reader.spark.read.parquet(staged)  # noqa: E731
            return lambda: (
                publication.stage_months(name, target, frame, grain, None),
                customers(lambda: stage_rebuilt(publication, whole, "full refresh")),
            )
        return lambda: publication.stage_months(name, target, frame, grain, None)

    whole = {
        DESCRIPTIONS: t.latest_description(products),
        CATALOGUE: inputs["products"].select(*CATALOGUE_COLUMNS),
        SOLD: built[PRODUCT_DAYS].select("stock_code").distinct(),
    }

    def stage_whole(name: str) -> Callable[[], object]:
        frame = whole[name]
        return lambda: publication.stage_whole(name, paths.gold_meta(name), frame, ("stock_code",))

    side_by_side([stage(name) for name in built] + [stage_whole(name) for name in whole])


@dataclass
class Incremental:
    """An incremental run's tables, rebuilt for its plan."""

    reader: Reader
    changes: SilverChanges
    plan: Plan
    publication: Publication

    def lines(self, days: set[date]) -> DataFrame:
        return self.reader.silver("order_lines", self.changes.dirs("order_lines", days))

    def target(self, name: str) -> str:
        paths = self.reader.paths
        return paths.gold_meta(name) if name in STATE else paths.gold(name)

    def merged(self, name: str, fresh: DataFrame, days: set[date]) -> None:
        """Stage the months of ``days`` of a table: its other days as published, those rebuilt."""
        column, grain = PARTITIONED[name]
        months = {month_of(d) for d in days}
        existing = self.reader.table(name, self.target(name), fresh.schema, months)
        merged = merge_days(existing, fresh, column, days)
        self.publication.stage_months(name, self.target(name), merged, grain, months)

    def stage(self, has_products: bool, has_reviews: bool, customers: Customers) -> None:
        """Stage every changed partition, and the customer marts (``customers``) from the
        activity after this run as soon as it is staged, beside the other tables."""
        days = set(self.plan.sales_days)
        lines = self.lines(days)

        def activity_then_customers() -> None:
            if days:
                self.merged(ACTIVITY, customer_activity(lines), days)
            customers(self.customer_tables)

        tasks: list[Callable[[], object]] = [
            lambda: self.product_monthly(lines, has_products, has_reviews),
            activity_then_customers,
        ]
        if days:
            tasks.append(lambda: self.merged("sales_daily", t.daily_sales_by_country(lines), days))
        if self.plan.snapshot_days:
            tasks.append(self.inventory)
        side_by_side(tasks)

    def inventory(self) -> None:
        """Stage the inventory_health days to recompute, with their 28-day sales windows."""
        snapshots = set(self.plan.snapshot_days)
        inventory = self.reader.silver("inventory", self.changes.dirs("inventory", snapshots))
        fresh = t.inventory_days_of_cover(inventory, self.lines(self.plan.velocity_days))
        self.merged("inventory_health", fresh, snapshots)

    def activity(self) -> DataFrame:
        """The published activity of the months this run left alone, and those it staged."""
        schema = customer_activity(self.reader.empty("order_lines")).schema
        staged = self.publication.staged(ACTIVITY)
        rebuilt = {month_of(d) for d in self.plan.sales_days}
        published = {
            name.split("=", 1)[1]
            for name in self.reader.files.list_dirs(self.target(ACTIVITY))
            if name.startswith(f"{PARTITION}=")
        }
        kept = self.reader.table(ACTIVITY, self.target(ACTIVITY), schema, published - rebuilt)
        if not rebuilt or not self.reader.files.exists(staged):
            return kept
        return kept.unionByName(self.reader.spark.read.schema(kept.schema).parquet(staged))

    def customer_tables(self) -> CustomerTables:
        """Stage the summary and cohort counts updated for the rewritten days (rebuilt from the
        whole activity when gold has none yet, or an update cannot be exact)."""
        reader, files = self.reader, self.reader.files
        activity = customer_activity(reader.empty("order_lines"))
        schemas = {SUMMARY: summarize(activity).schema, COHORTS: cohort_counts(activity).schema}
        if not all(files.exists(self.target(name)) for name in schemas):
            return stage_rebuilt(self.publication, self.activity, "none published yet")
        summary, cohorts = (
            reader.table(name, self.target(name), schema).drop(PARTITION)
            for name, schema in schemas.items()
        )
        days = set(self.plan.sales_days)
        months = {month_of(d) for d in days}
        before = reader.table(ACTIVITY, self.target(ACTIVITY), activity.schema, months)
        after = self.staged_months(ACTIVITY, months, activity.schema)
        published = Published(summary, cohorts, before.drop(PARTITION), after)
        return stage_updated(self.publication, published, days, self.activity)

    def descriptions(self, lines: DataFrame) -> tuple[DataFrame, list[str]]:
        """Stage each stock code's latest line description, the published ones merged with the
        rewritten days'; return it and the stock codes whose description changed."""
        path = self.target(DESCRIPTIONS)
        fresh = t.latest_description(lines.where(F.col("is_product")))
        old = self.reader.table(DESCRIPTIONS, path, fresh.schema).drop(PARTITION)
        if not self.plan.sales_days:
            return old, []
        pairs = old.select("stock_code", "_latest").unionByName(
            fresh.select("stock_code", "_latest")
        )
        merged = t.latest_description(pairs)
        staged = self.publication.stage_whole(DESCRIPTIONS, path, merged, ("stock_code",))
        new = self.reader.spark.read.schema(merged.schema).parquet(staged)
        changed = (
            new.alias("n")
            .join(old.alias("o"), "stock_code", "left")
            .where(~F.col("n._line_description").eqNullSafe(F.col("o._line_description")))
        )
        return new, [r[0] for r in changed.select("stock_code").collect()]

    def catalogue_changes(self, products: DataFrame | None) -> list[str]:
        """Stage the products' attributes if silver rewrote any product; return the stock codes
        whose description or category differs from what product_monthly last joined (all of
        them when gold has no record yet)."""
        if not self.plan.product_folders:
            return []
        new = (self.reader.empty("products") if products is None else products).select(
            *CATALOGUE_COLUMNS
        )
        path = self.target(CATALOGUE)
        old = self.reader.table(CATALOGUE, path, new.schema).select(*CATALOGUE_COLUMNS)
        self.publication.stage_whole(CATALOGUE, path, new, ("stock_code",))
        differ = new.exceptAll(old).unionByName(old.exceptAll(new))
        return [r[0] for r in differ.select("stock_code").distinct().collect()]

    def staged_months(self, key: str, months: set[str], schema: StructType) -> DataFrame:
        """The rows of a table this run staged for ``months`` (all their days)."""
        staged = self.publication.staged(key)
        folders = [f"{staged}/{PARTITION}={m}" for m in sorted(months)]
        folders = [f for f in folders if self.reader.files.exists(f)]
        if not folders:
            return frames.empty(self.reader.spark, schema)
        reader = self.reader.spark.read.schema(schema).option("basePath", staged)
        return reader.parquet(*folders).select(*schema.fieldNames())

    def product_inputs(
        self, lines: DataFrame, products: DataFrame | None
    ) -> tuple[DataFrame, list[str]]:
        """Side by side, stage the descriptions, the catalogue and the product day totals of the
        rewritten days; return the descriptions and the stock codes whose months are joined
        again (their line description, catalogue description or category changed)."""
        days = set(self.plan.sales_days)

        def product_days() -> None:
            if days:
                self.merged(PRODUCT_DAYS, t.product_day_totals(lines), days)

        with ThreadPoolExecutor(max_workers=4) as pool:
            described = pool.submit(self.descriptions, lines)
            changed = pool.submit(self.catalogue_changes, products)
            sold = pool.submit(self.sold_before, lines)
            pool.submit(product_days).result()
            descriptions, codes = described.result()
            found = set(codes) | set(changed.result())
            before = sold.result()
            # A code sold for the first time is only in the months of this run's days, which
            # are rebuilt anyway: only codes sold before have other months to join again.
            return descriptions, sorted(found if before is None else found & before)

    def sold_before(self, lines: DataFrame) -> set[str] | None:
        """The stock codes sold before this run (gold's record; None if it has none), and stage
        the record with the codes of the rewritten days added. A code whose lines went away
        stays in it: a code too many costs a look at product_monthly, never a wrong row."""
        path = self.target(SOLD)
        if not self.reader.files.exists(path):
            return None
        schema = StructType([StructField("stock_code", StringType(), True)])
        old = self.reader.table(SOLD, path, schema).select("stock_code")
        before = {r[0] for r in old.collect()}
        if self.plan.sales_days:
            fresh = t.product_day_totals(lines).select("stock_code")
            codes = old.unionByName(fresh).distinct()
            self.publication.stage_whole(SOLD, path, codes, ("stock_code",))
        return before

    def product_monthly(self, lines: DataFrame, has_products: bool, has_reviews: bool) -> None:
        """Stage the months of product_monthly whose lines, reviews or products changed.

        A month with rewritten days sums its products' day totals (gold's ``product_daily``,
        those days rebuilt from their lines: never the month's other lines); a month whose
        reviews changed rates them again; a month holding a product whose attributes changed
        keeps its published totals and ratings and joins the new attributes.
        """
        plan = self.plan
        if not (plan.product_folders or plan.sales_days or plan.review_months):
            return  # no line, product or review changed (so no description either)
        products = self.reader.silver("products") if has_products else None
        descriptions, codes = self.product_inputs(lines, products)
        day_schema = t.product_day_totals(self.reader.empty("order_lines")).schema
        target = self.target("product_monthly")
        totals_schema = t.product_month_totals(self.reader.empty("order_lines")).schema
        ratings_schema = t.review_ratings(self.reader.empty("reviews")).schema
        schema = StructType(
            totals_schema.fields + [ratings_schema[c] for c in ("review_count", "avg_rating")]
        )
        rejoined: set[str] = set()
        if codes:
            published = self.reader.table("product_monthly", target, totals_schema)
            hit = published.where(F.col("stock_code").isin(*codes)).select(PARTITION).distinct()
            rejoined = {r[0] for r in hit.collect()}
        line_months = set(self.plan.line_months)
        rated = line_months | set(self.plan.review_months)
        months = rated | rejoined
        if not months:
            return
        days = self.staged_months(PRODUCT_DAYS, line_months, day_schema)
        totals = t.product_month_totals_of_days(days)
        others = months - line_months
        published = self.reader.table("product_monthly", target, schema, others)
        totals = totals.unionByName(published.select(*TOTALS))
        ratings = published.where(~F.col(PARTITION).isin(*sorted(rated))).select(
            "stock_code", "month", "review_count", "avg_rating"
        )
        if has_reviews:
            folders = self.changes.dirs("reviews", days_of_months(rated))
            ratings = ratings.unionByName(t.review_ratings(self.reader.silver("reviews", folders)))
        built = t.finish_product_months(
            totals, descriptions.select("stock_code", "_line_description"), products, ratings
        )
        grain = PARTITIONED["product_monthly"][1]
        self.publication.stage_months(
            "product_monthly", target, with_month(built, "month"), grain, months
        )
