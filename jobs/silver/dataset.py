"""One dataset's silver run, step by step: pending batches in, checked, recorded, published."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs.common.contracts import Contract
from jobs.common.entry import say
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.quality import (
    RowCheck,
    SchemaDrift,
    Verdict,
    apply_row_checks,
    batch_aggregates,
    batch_stats,
    clean_rows,
    distinct_aggregates,
    gate_failures,
    row_checks,
    schema_drift,
    schema_drift_verdict,
    verdicts,
)
from jobs.silver.batches import batch_file_columns, batch_paths, pending_batches
from jobs.silver.ledger import Outcome, now, run_summary, write_records
from jobs.silver.publish import Publisher
from jobs.silver.references import flag_references, reference_keys
from jobs.silver.transforms import (
    add_date_partitions,
    parse_checks,
    partition_label_column,
    type_columns,
)


@dataclass
class DatasetRun:
    """One dataset's silver run: pending bronze batches in, silver partitions rewritten."""

    spark: SparkSession
    files: LakeFiles
    lake: LakePaths
    contract: Contract
    run_id: str
    salt: str
    full_refresh: bool
    started_at: str = field(default_factory=now)
    clock: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return self.contract.dataset

    @property
    def partitions(self) -> list[str]:
        return self.contract.partition_columns

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.clock
        say(f"silver: {self.name}: [{elapsed:5.1f} s] {message}")

    def read_bronze(self, manifest: list[dict[str, Any]], batches: list[str]) -> DataFrame:
        """The batches' bronze rows, their schemas merged: a column only newer batches have is
        kept, and a contract column a batch lacks (named in the contract after it was ingested)
        is null in it, as for a file without that column."""
        base = self.lake.bronze(self.name)
        reader = self.spark.read.option("basePath", base).option("mergeSchema", "true")
        paths = batch_paths(self.lake, self.name, manifest, batches)
        bronze = reader.parquet(*paths) if paths else reader.parquet(base)
        bronze = bronze.where(F.col("run_id").isin(batches))
        present = {name.lower() for name in bronze.columns}
        wanted = [c.source for c in self.contract.typed_columns]
        absent = [c for c in wanted if c.lower() not in present]
        return bronze.select("*", *[F.lit(None).cast("string").alias(c) for c in absent])

    def run(self) -> dict[str, Any] | None:
        """The run's summary (``quality_runs``); None when bronze has nothing of the dataset."""
        batches, manifest = pending_batches(self.files, self.lake, self.name, self.full_refresh)
        if batches is None:
            self.log("no bronze data; skipped")
            return None
        if not batches:
            self.log("no new bronze batches")
            return {"rows_in": 0, "bronze_runs": [], "status": "unchanged"}
        bronze = self.read_bronze(manifest, batches)
        references = reference_keys(self.spark, self.files, self.lake, self.contract)
        drift = schema_drift(self.contract, batch_file_columns(manifest, batches))
        evaluated, checks = self.evaluate(bronze, references)
        publisher = Publisher(
            self.spark, self.files, self.lake, self.contract, self.run_id, self.salt,
            self.full_refresh, self.log,
        )  # fmt: skip
        observed = Observation(f"silver_{self.name}")
        aggregates = [
            *batch_aggregates(self.contract, checks, set(references)),
            self.touched(),
            self.clean_events(),
        ]
        checked = publisher.stage(evaluated.observe(observed, *aggregates))
        try:
            stats = self.measure(observed.get, checked)
            self.log(f"checked {stats['rows_in']} rows from bronze batches {', '.join(batches)}")
            found = verdicts(
                self.contract, stats, checks, set(references), datetime.now(UTC).date()
            )
            found.append(self.drift_verdict(drift))
            failed = gate_failures(found)
            written = self.write(publisher, checked, stats, batches, failed)
        finally:
            publisher.clear_staged()
        reasons = written.get("quarantine_reasons")
        summary = self.record(Outcome(batches, stats, found, written, failed, drift))
        return summary | ({"quarantine_reasons": reasons} if reasons else {})

    def evaluate(
        self, bronze: DataFrame, references: dict[str, DataFrame]
    ) -> tuple[DataFrame, list[RowCheck]]:
        """Typed columns, reference flags, every row check's verdict, and date partitions."""
        typed = flag_references(type_columns(bronze, self.contract), references)
        pii = set(self.contract.pii)
        checks = row_checks(self.contract, parse_checks(self.contract, pii), pii, references)
        evaluated = apply_row_checks(typed, checks)
        dated = add_date_partitions(evaluated, self.contract.business_date, self.partitions)
        return dated, checks

    def touched(self) -> Column:
        """The date partitions of the clean rows, as labels: observed values cross py4j as Java
        objects, strings and numbers only."""
        labels = F.collect_set(F.when(clean_rows(), partition_label_column(self.partitions)))
        return F.concat_ws(",", labels).alias("touched")

    def clean_events(self) -> Column:
        """The clean rows that carry an event id (0 without a stream)."""
        stream = self.contract.stream
        if stream is None:
            return F.lit(0).alias("clean_events")
        return F.count(F.when(clean_rows(), F.col(stream.event_id))).alias("clean_events")

    def measure(self, observed: dict[str, Any], checked: DataFrame) -> dict[str, Any]:
        """The observed counts, with the distinct counts (uniqueness rules) from the copy."""
        row = dict(observed)
        distinct = distinct_aggregates(self.contract)
        if distinct:
            row |= checked.agg(*distinct).collect()[0].asDict()
        stats = batch_stats(row)
        stats["touched"] = sorted(
            tuple(int(part) for part in label.split("-"))
            for label in (row["touched"] or "").split(",")
            if label
        )
        return stats

    def drift_verdict(self, drift: SchemaDrift) -> Verdict:
        verdict = schema_drift_verdict(self.contract, drift)
        if verdict.status in {"warn", "fail"}:
            self.log(f"schema drift ({verdict.status}): {verdict.message}")
        return verdict

    def write(
        self,
        publisher: Publisher,
        checked: DataFrame,
        stats: dict[str, Any],
        batches: list[str],
        failed: list[str],
    ) -> dict[str, Any]:
        """The quarantine, whatever the gate says, alongside the publish (when the gate passed)."""
        with ThreadPoolExecutor(max_workers=1) as alongside:
            quarantined = alongside.submit(publisher.write_quarantine, checked)
            if failed:
                reasons = self.quarantine_reasons(checked, stats)
                written = {"rows_silver": stats["clean"], "rows_duplicate": 0,
                           "rows_duplicate_event": 0, "partitions": [],
                           "quarantine_reasons": reasons}  # fmt: skip
                self.log("quality gate failed, batch not published: " + "; ".join(failed))
            else:
                written = publisher.publish(
                    checked, stats["clean"], stats["touched"], batches,
                    int(stats.get("clean_events") or 0),
                )  # fmt: skip
            quarantined.result()
        self.log(f"quarantined {stats['quarantined']} rows")
        return written

    def quarantine_reasons(
        self, checked: DataFrame, stats: dict[str, Any], most: int = 3
    ) -> list[str]:
        """The rules that quarantined the most rows, each with its rows and one of its reasons:
        read only when the gate failed, so that the failure says why (a file that is one
        column, say). By rule, not by reason: a reason names the value it refused."""
        if not stats["quarantined"]:
            return []
        failed = checked.where(~clean_rows()).select(
            F.explode("dq_failed_rules").alias("rule"), "dq_reasons"
        )
        own = F.filter("dq_reasons", lambda r: r.startswith(F.concat(F.col("rule"), F.lit(": "))))
        rules = (
            failed.groupBy("rule")
            .agg(F.count("*").alias("rows"), F.min(F.element_at(own, 1)).alias("example"))
            .orderBy(F.desc("rows"), "rule")
            .limit(most)
            .collect()
        )
        return [
            f"{r['rule']} ({r['rows']} row{'' if r['rows'] == 1 else 's'}, e.g. "
            f"{(r['example'] or '')[len(r['rule']) + 2 :]})"
            for r in rules
        ]

    def record(self, outcome: Outcome) -> dict[str, Any]:
        """Write this run's rule results and ledger summary to quality/; return the summary."""
        summary = run_summary(self.run_id, self.name, outcome, self.started_at, now())
        write_records(self.files, self.lake, self.run_id, self.name, outcome.verdicts, summary)
        self.log(
            f"{summary['rows_in']} in = {summary['rows_silver']} silver + "
            f"{summary['rows_quarantined']} quarantined + {summary['rows_duplicate']} duplicates "
            f"({summary['rows_duplicate_event']} by event id; {summary['status']})"
        )
        return summary
