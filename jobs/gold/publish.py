"""Gold's writes: every new table version staged first, then published in one journaled swap.

A run writes each mart (whole, or only the month partitions it recomputed) under
``_staging/gold/run_id=<run>/``, then records the list of moves in a journal
(``_meta/gold/publish.json``) and makes them: each staged directory replaces its target. A run
killed during the moves leaves the journal, and the next run completes it before anything else,
so a mart is never left half old, half new, or without a partition it had. Locally the moves run
under the catalog's lock, which a query holds (shared) while it reads: a query sees the marts
before the swap or after it, whole. On S3 nothing makes several objects change at once; see
docs/incremental-gold.md.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.common import frames
from jobs.common.lake import LakeFiles, LakePaths

PARTITION = "year_month"  # the business month of a partitioned mart: "2011-12"
JOURNAL = "publish.json"


def month_key(column: str) -> Column:
    """The ``year_month`` partition value of a date column."""
    return F.date_format(F.col(column), "yyyy-MM")


class Beside:
    """Work that runs beside a gold run, one piece at a time in a thread of its own, so the
    run's critical path does not wait for it; :meth:`settle` waits for all of it."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._pending: list[Future[None]] = []
        self._lock = threading.Lock()

    def submit(self, work: Callable[..., None], *args: Any) -> None:
        with self._lock:
            self._pending.append(self._pool.submit(work, *args))

    def settle(self) -> None:
        """Wait for everything submitted; raise the first error one raised."""
        with self._lock:
            pending = list(self._pending)
        try:
            for future in pending:
                future.result()
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Publication:
    """The tables a gold run staged, and how each replaces what is published.

    Each staged table's rows are counted beside the run (its files' footers, or a Spark count
    for many files); :meth:`publish` waits for the counts, which read the staged files, first.
    """

    spark: SparkSession
    files: LakeFiles
    paths: LakePaths
    run_id: str
    moves: list[dict[str, str]] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    partitions: dict[str, int] = field(default_factory=dict)
    counting: Beside = field(default_factory=lambda: Beside("gold-rows-written"))

    def staged(self, key: str) -> str:
        return f"{self.paths.gold_staging(self.run_id)}/{key}"

    def stage_whole(self, key: str, target: str, frame: DataFrame, grain: tuple[str, ...]) -> str:
        """Stage a small table as one file sorted by its grain; it replaces ``target`` whole."""
        staged = self.staged(key)
        frame.repartition(1).sortWithinPartitions(*grain).write.mode("overwrite").parquet(staged)
        self.moves.append({"staged": staged, "target": target})
        self.counting.submit(self._count, key, staged, 1, frame.schema)
        return staged

    def stage_months(
        self,
        key: str,
        target: str,
        frame: DataFrame,
        grain: tuple[str, ...],
        months: set[str] | None,
    ) -> str:
        """Stage month partitions (``year_month``), one file per month, written by many tasks.

        ``months``: the partitions this run replaces (a month without rows is deleted), or None
        to replace the whole table.
        """
        staged = self.staged(key)
        # One shuffle by month: each month's rows land in one task and one file of a useful
        # size, and months spread over the tasks.
        frame.repartition(PARTITION).sortWithinPartitions(PARTITION, *grain).write.mode(
            "overwrite"
        ).partitionBy(PARTITION).parquet(staged)
        written = {
            name.split("=", 1)[1]
            for name in self.files.list_dirs(staged)
            if name.startswith(f"{PARTITION}=")
        }
        if months is None:
            if not written:
                # No rows: one empty file keeps the table and its columns, so the crawler
                # registers it and every view over it answers (with nothing).
                empty = frames.empty(self.spark, frame.schema)  # written as one file
                empty.write.mode("overwrite").parquet(staged)
            self.moves.append({"staged": staged, "target": target})
            self.counting.submit(self._count, key, staged, len(written), frame.schema)
            return staged
        for month in sorted(months | written):
            part = f"{PARTITION}={month}"
            move = {"target": f"{target}/{part}"}
            if month in written:
                move["staged"] = f"{staged}/{part}"
            self.moves.append(move)
        self.counting.submit(self._count, key, staged, len(months | written), frame.schema)
        return staged

    def _count(self, key: str, staged: str, partitions: int, schema: StructType) -> None:
        # Counted from the files just written, not observed during the write: an observation
        # over a plan with no partitions never reports, and Observation.get would wait forever.
        # A few files are counted from their footers in the driver; many by a Spark count, read
        # with the schema they were written with (the partition column from the folder names).
        counted = self.files.parquet_rows([staged])
        if counted is None:
            reader = self.spark.read.schema(schema).option("basePath", staged)
            counted = int(reader.parquet(staged).count())
        self.written[key] = counted
        self.partitions[key] = partitions

    def publish(self) -> None:
        """Journal the moves, make them (under the readers' lock where there is one), clean up."""
        self.counting.settle()
        journal = self.paths.gold_meta(JOURNAL)
        self.files.write_text(journal, json.dumps({"run_id": self.run_id, "moves": self.moves}))
        complete(self.files, self.paths)


@contextmanager
def readers_excluded(paths: LakePaths) -> Iterator[None]:
    """Hold the local catalog's lock exclusively: no query reads while marts are swapped."""
    lock_path = paths.readers_lock()
    if lock_path is None:
        yield
        return
    os.makedirs(os.path.dirname(lock_path), exist_ok=True)
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def complete(files: LakeFiles, paths: LakePaths) -> None:
    """Finish the journaled swap if one is pending (a run killed mid-swap), then clear staging.

    Each move is safe to repeat: a staged directory that is gone was moved already. A journal
    that does not parse was cut short while being written, before any move: it is dropped, and
    so are the staged tables it would have published (the run that staged them recomputes).
    """
    journal = paths.gold_meta(JOURNAL)
    if files.exists(journal):
        try:
            moves: list[dict[str, str]] = json.loads(files.read_text(journal))["moves"]
        except (ValueError, KeyError, TypeError):
            moves = []
        with readers_excluded(paths):
            for move in moves:
                staged = move.get("staged")
                if staged is not None and not files.exists(staged):
                    continue
                files.delete(move["target"])
                if staged is not None:
                    files.move(staged, move["target"])
        files.delete(journal)
    files.delete(paths.gold_staging())


def write_run_record(files: LakeFiles, paths: LakePaths, record: dict[str, Any]) -> None:
    """``_meta/gold/runs/<run_id>.json``: a re-run of the same id replaces it."""
    files.write_text(
        paths.gold_run_record(record["run_id"]), json.dumps(record, sort_keys=True, default=str)
    )
