"""Silver's writes: the checked batch staged once, the quarantine, and the partition rewrite.

Every working copy lives under ``_staging/`` (``LakePaths.silver_checked`` and
``silver_staging``): the job's IAM role may write and delete exactly there besides its outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.common.contracts import Contract
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.quality import clean_rows
from jobs.silver.transforms import (
    hash_pii,
    keep_first_of_exact_duplicates,
    keep_latest_per_key,
    keep_one_per_event_or_exact,
    partition_filter,
    partition_label,
    quarantine_columns,
    raw_name,
    silver_columns,
)

Touched = list[tuple[int, ...]]


def pii_columns(contract: Contract) -> list[str]:
    """The typed PII columns and, since a rejected line could hold PII anywhere, the raw
    source values of PII columns and the whole line of a malformed record."""
    if not contract.pii:
        return []
    sources = [c.source for c in contract.columns if c.name in contract.pii]
    return [*contract.pii, *[raw_name(s) for s in sources], "_corrupt_record"]


@dataclass
class Publisher:
    """Writes one dataset's silver run: staged copy, quarantine, rewritten partitions."""

    spark: SparkSession
    files: LakeFiles
    lake: LakePaths
    contract: Contract
    run_id: str
    salt: str
    full_refresh: bool
    log: Callable[[str], None]

    @property
    def name(self) -> str:
        return self.contract.dataset

    @property
    def partitions(self) -> list[str]:
        return self.contract.partition_columns

    def stage(self, evaluated: DataFrame) -> DataFrame:
        """Write the checked batch once, PII hashed, and read it back (the write also yields the
        batch's counts: see ``jobs.common.quality.batch_aggregates``).

        Parsing (dates, decimals, regexes) and the row checks are the expensive part of silver:
        the counts, the quarantine and the publish read this copy instead of repeating them. A
        Parquet copy rather than Spark's cache: on the 1M-line benchmark building the cache took
        longer than writing the copy and held gigabytes of heap. Hashing here keeps PII in clear
        text out of the copy; the checks that need clear values have run.
        """
        self.clear_staged()  # left by a run that crashed
        path = self.lake.silver_checked(self.name, self.run_id)
        kept = [c for c in evaluated.columns if not c.startswith("_unparsed_")]
        copy = hash_pii(evaluated.select(*kept), pii_columns(self.contract), self.salt)
        copy.write.mode("overwrite").parquet(path)
        # Read with the schema it was written with: no job to infer it from a file's footer.
        return self.spark.read.schema(copy.schema).parquet(path)

    def clear_staged(self) -> None:
        """Delete every run's checked copy of this dataset."""
        self.files.delete(self.lake.silver_checked(self.name))

    def read_silver(self, path: str, schema: StructType | None = None) -> DataFrame:
        """This dataset's silver rows; partition values are read as strings, so cast them back.

        With ``schema`` (the silver columns' types), a file written before a column existed
        (event_id before the stream) reads it as null: without one, Spark takes a single
        file's schema, and a column only newer files hold could be lost.
        """
        reader = self.spark.read if schema is None else self.spark.read.schema(schema)
        frame = reader.parquet(path)
        return frame.withColumns({p: F.col(p).cast("int") for p in self.partitions})

    def counted(self, frame: DataFrame, batches: Sequence[str] = ()) -> tuple[int, int, int]:
        """Rows, rows that carry an event id (0 without a stream), and rows of ``batches``,
        in one pass."""
        stream = self.contract.stream
        events = F.count(stream.event_id) if stream is not None else F.lit(0)
        fresh = F.count_if(F.col("_ingest_run_id").isin(*batches)) if batches else F.lit(0)
        row = frame.agg(F.count(F.lit(1)), events, fresh).collect()[0]
        return int(row[0]), int(row[1]), int(row[2])

    def write_quarantine(self, checked: DataFrame) -> None:
        """The rejected rows, with their raw values (PII hashed) and the rules they failed."""
        rejected = checked.where(~clean_rows())
        rejected.select(
            *quarantine_columns(self.contract),
            F.lit(self.run_id).alias("silver_run_id"),
            F.current_timestamp().alias("quarantined_at"),
        ).write.mode("overwrite").partitionBy("ingest_date", "run_id").parquet(
            self.lake.quarantine(self.name)
        )

    def publish(
        self, checked: DataFrame, clean: int, touched: Touched, batches: list[str],
        clean_events: int = 0,
    ) -> dict[str, Any]:  # fmt: skip
        """Rewrite the touched partitions with existing and new rows, deduplicated.

        Returns rows_silver and rows_duplicate (``clean`` new rows, less the duplicates the
        rewrite removed: counted from what the partitions hold after), rows_duplicate_event
        (those of them that carry an event id: ``clean_events`` of the new rows do) and the
        partitions.
        """
        columns = silver_columns(self.contract)
        new = checked.where(clean_rows()).select(*columns, *self.partitions)
        schema = StructType([f for f in new.schema.fields if f.name in set(columns)])
        path = self.lake.silver(self.name)
        existing = None
        if self.files.exists(path) and not self.full_refresh:
            existing, touched = self.existing_rows(path, new, touched, batches, schema)
        before, before_events, _ = self.counted(existing) if existing is not None else (0, 0, 0)
        if existing is not None:
            self.log(f"{before} rows already in the {len(touched)} partitions to rewrite")
        candidates = new if existing is None else existing.unionByName(new)
        result = self.deduplicate(candidates).select(*columns, *self.partitions)
        if before:
            after, after_events, kept = self.rewrite(result, path, batches)
            if not kept:  # the partitions hold what they held: none is rewritten
                touched = []
        else:
            self.write_partitions(result, path)
            self.log(f"wrote {len(touched)} partitions")
            after, after_events, _ = self.counted(
                self.read_silver(path, schema).where(partition_filter(touched, self.partitions))
            )
        duplicates = clean + before - after
        return {
            "rows_silver": clean - duplicates,
            "rows_duplicate": duplicates,
            "rows_duplicate_event": clean_events + before_events - after_events,
            "partitions": [partition_label(t) for t in touched],
        }

    def rewrite(self, result: DataFrame, path: str, batches: list[str]) -> tuple[int, int, int]:
        """Rewrite partitions that hold rows: ``result`` reads the silver path it replaces, so it
        is written to ``_staging/`` first (never overwrite a path while reading it), counted
        there, and published from there only if a row of ``batches`` survived deduplication.

        A batch that only re-sends rows silver has (re-sent customer records, a repeated
        file) leaves the partitions as they are: the same rows, the same files, so gold sees
        no change to consume. Returns the staged rows, those with an event id, and those of
        ``batches``.
        """
        staging = self.lake.silver_staging(self.name, self.run_id)
        result.write.mode("overwrite").parquet(staging)
        staged = self.spark.read.schema(result.schema).parquet(staging)
        after, after_events, kept = self.counted(staged, batches)
        if kept:
            self.write_partitions(staged.repartition(*self.partitions), path)
            self.log("rewrote the partitions")
        else:
            self.log("every row of the batch was already in silver: no partition rewritten")
        self.files.delete(staging)
        return after, after_events, kept

    def existing_rows(
        self, path: str, new: DataFrame, touched: Touched, batches: list[str], schema: StructType
    ) -> tuple[DataFrame, Touched]:
        """The silver rows of the partitions to rewrite, and those partitions: the ones the batch
        touches and, for latest-per-key, those holding an older row of a key it brings."""
        contract = self.contract
        existing = self.read_silver(path, schema).where(~F.col("_ingest_run_id").isin(batches))
        if contract.dedupe_strategy == "latest_per_key":
            keys = new.select(*contract.key).distinct()
            moved = existing.join(keys, list(contract.key), "left_semi").select(*self.partitions)
            touched = sorted(set(touched) | {tuple(r) for r in moved.distinct().collect()})
        existing = existing.where(partition_filter(touched, self.partitions)).select(
            *silver_columns(contract), *self.partitions
        )
        return existing, touched

    def deduplicate(self, candidates: DataFrame) -> DataFrame:
        """One row per duplicate group, by the contract's strategy, shuffled once by date."""
        contract = self.contract
        if contract.dedupe_strategy == "exact":
            # One shuffle by date serves both the dedupe and the partitioned write.
            by_day = candidates.repartition(*self.partitions)
            if contract.stream is None:
                return keep_first_of_exact_duplicates(
                    by_day, contract.silver_columns, self.partitions
                )
            return keep_one_per_event_or_exact(
                by_day, contract.stream, contract.silver_columns, self.partitions
            )
        if contract.business_date in contract.key:
            # The key fixes the date partition: one shuffle by date serves the ranking too.
            by_day = candidates.repartition(*self.partitions)
            return keep_latest_per_key(
                by_day, contract.key, contract.dedupe_order_by, within=self.partitions
            )
        result = keep_latest_per_key(candidates, contract.key, contract.dedupe_order_by)
        return result.repartition(*self.partitions)

    def write_partitions(self, result: DataFrame, path: str) -> None:
        """Overwrite the partitions ``result`` holds (dynamic overwrite; all on a full refresh)."""
        writer = result.write.mode("overwrite").partitionBy(*self.partitions)
        if self.full_refresh:
            writer = writer.option("partitionOverwriteMode", "static")
        writer.parquet(path)
