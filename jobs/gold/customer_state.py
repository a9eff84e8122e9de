"""Stages gold's customer summary and cohort counts for a run, and gives the customer marts
their inputs: the summary and counts, or, for an as-of day before the last sale, the activity.

A full refresh (and any run that cannot update them exactly, or finds none published) builds
both from the whole customer-activity table; an incremental run updates the published ones
from the activity of the days it rewrote (``jobs.gold.summary``). Both are staged and published
with the activity table in the same journal, so the three always agree: a run killed before
its journal is complete leaves all three as they were, and one killed after finishes all three.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.customers import _until
from jobs.gold.publish import PARTITION, Publication
from jobs.gold.summary import (
    COHORTS,
    SUMMARY,
    cohort_counts,
    cohorts_after,
    summarize,
    summary_after,
)


@dataclass(frozen=True)
class CustomerTables:
    """The customer marts' inputs after this run: the summary, the cohort counts, and the whole
    activity table (read only for an as-of day before the last sale)."""

    summary: DataFrame
    cohorts: DataFrame
    activity: Callable[[], DataFrame]
    how: str  # for the run record: "updated", "unchanged", or "rebuilt: <why>"

    def as_of(self, end: date, last: date | None) -> tuple[DataFrame, DataFrame]:
        """The summary and cohort counts of the activity up to ``end``; ``last`` is the last
        day with any order line (no activity is later)."""
        if last is None or end >= last:
            return self.summary, self.cohorts
        until = _until(self.activity(), end)
        return summarize(until), cohort_counts(until)


def stage_rebuilt(
    publication: Publication, activity: Callable[[], DataFrame], why: str
) -> CustomerTables:
    """Build the summary and cohort counts from the whole activity table and stage both."""
    whole = activity()
    return _staged(publication, summarize(whole), cohort_counts(whole), activity, f"rebuilt: {why}")


def _staged(
    publication: Publication,
    summary: DataFrame,
    cohorts: DataFrame,
    activity: Callable[[], DataFrame],
    how: str,
) -> CustomerTables:
    paths, spark = publication.paths, publication.spark
    # Side by side: each is a few small single-task stages.
    with ThreadPoolExecutor(max_workers=2) as pool:
        summary_job = pool.submit(
            publication.stage_whole, SUMMARY, paths.gold_meta(SUMMARY), summary, ("customer_id",)
        )
        cohorts_job = pool.submit(
            publication.stage_whole,
            COHORTS,
            paths.gold_meta(COHORTS),
            cohorts,
            ("cohort_month", "activity_month"),
        )
        staged_summary, staged_cohorts = summary_job.result(), cohorts_job.result()
    return CustomerTables(
        spark.read.schema(summary.schema).parquet(staged_summary),
        spark.read.schema(cohorts.schema).parquet(staged_cohorts),
        activity,
        how,
    )


@dataclass(frozen=True)
class Published:
    """What an incremental run starts from: the published summary and cohort counts, and the
    published and staged activity of the months it rewrote."""

    summary: DataFrame
    cohorts: DataFrame
    before: DataFrame  # the published activity of the rewritten months
    after: DataFrame  # those months as this run staged them


def stage_updated(
    publication: Publication,
    published: Published,
    days: set[date],
    activity: Callable[[], DataFrame],
) -> CustomerTables:
    """Update the published summary and cohort counts for the rewritten ``days`` and stage
    them; rebuild both from the whole activity if any customer's update cannot be exact."""
    if not days:
        return CustomerTables(published.summary, published.cohorts, activity, "unchanged")
    on_days = F.col("activity_date").isin(*[F.lit(d) for d in sorted(days)])
    before, after = published.before.where(on_days), published.after.where(on_days)
    # One row per customer: kept in memory, the check and the staging compute it once.
    candidate = summary_after(published.summary, before, after, days).persist()
    try:
        inexact = candidate.where(~F.col("_exact")).count()
        if inexact:
            why = f"{inexact} customers of the rewritten days cannot be updated exactly"
            return stage_rebuilt(publication, activity, why)
        summary = candidate.drop("_exact")
        cohorts = cohorts_after(published.cohorts, summary, published.before, published.after)
        return _staged(publication, summary, cohorts, activity, "updated")
    finally:
        candidate.unpersist()


def without_partition(frame: DataFrame) -> DataFrame:
    """A whole table read by ``Reader.table`` has the month column of partitioned ones: drop it."""
    return frame.drop(PARTITION)
