"""Glue entry script of the silver job: typed, checked, deduplicated, PII-hashed datasets."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from jobs.common.args import JobArgs
from jobs.common.config import read_contracts, select_datasets
from jobs.common.contracts import Contract, Rule
from jobs.common.entry import run_main
from jobs.common.errors import ConfigurationError, QualityGateFailed
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.quality import (
    RowCheck,
    SchemaDrift,
    Verdict,
    freshness_verdict,
    gate_failures,
    ratio_verdict,
    ref_flag,
    row_count_verdict,
    row_rule_check,
    row_verdict,
    schema_drift,
    schema_drift_verdict,
    skipped_verdict,
)
from jobs.common.runtime import get_spark, on_glue, region_of_arn
from jobs.silver.transforms import (
    add_date_partitions,
    apply_row_checks,
    hash_pii,
    keep_first_of_exact_duplicates,
    keep_latest_per_key,
    parse_checks,
    partition_filter,
    partition_label,
    partition_label_column,
    quarantine_columns,
    raw_name,
    silver_columns,
    type_columns,
    unparsed_flags,
)

LOCAL_SALT = "medallion-local-development-salt"


def main() -> None:
    run_main("silver", refine)


def refine(argv: list[str]) -> dict[str, Any]:
    """Process every dataset's pending bronze batches; fail at the end if a gate failed."""
    args = JobArgs.from_argv(argv)
    spark = get_spark("medallion-silver")
    files = LakeFiles(spark)
    lake = LakePaths(args.lake_root)
    contracts = read_contracts(files, args.contracts_root)
    salt = pii_salt(args.pii_salt_secret)
    summary: dict[str, Any] = {"run_id": args.run_id, "datasets": {}, "absent": []}
    failures: list[str] = []
    ordered = select_datasets(contracts, args.datasets)
    results: dict[str, dict[str, Any] | None] = {}
    for wave in dependency_waves(contracts, ordered):
        # Datasets of one wave do not look each other up: running them side by side keeps both
        # cores busy through each one's small, single-task stages.
        with ThreadPoolExecutor(max_workers=len(wave)) as pool:
            runs = {
                name: pool.submit(
                    DatasetRun(
                        spark, files, lake, contracts[name], args.run_id, salt, args.full_refresh
                    ).run
                )
                for name in wave
            }
            results |= {name: future.result() for name, future in runs.items()}
    for dataset in ordered:
        result = results[dataset]
        if result is None:
            summary["absent"].append(dataset)
            continue
        summary["datasets"][dataset] = result
        failures += result.get("failed_rules", [])
    if failures:
        raise QualityGateFailed(failures)
    return summary


def dependency_waves(contracts: dict[str, Contract], ordered: list[str]) -> list[list[str]]:
    """Datasets grouped so that each one's references are in an earlier group."""
    level: dict[str, int] = {}
    for name in ordered:  # ordered puts references first
        refs = [level[r] for r in contracts[name].references if r in level]
        level[name] = 1 + max(refs, default=-1)
    return [[n for n in ordered if level[n] == i] for i in sorted(set(level.values()))]


def pii_salt(secret_id: str) -> str:
    """The PII salt: $MEDALLION_PII_SALT, else the secret, else (local runs only) a default."""
    if os.environ.get("MEDALLION_PII_SALT"):
        return os.environ["MEDALLION_PII_SALT"]
    if secret_id:
        import boto3

        return str(
            boto3.client("secretsmanager", region_name=region_of_arn(secret_id))
            .get_secret_value(SecretId=secret_id)["SecretString"]
        )
    if on_glue():
        raise ConfigurationError(
            "no PII salt: set --pii_salt_secret to a Secrets Manager secret id "
            "(the stack does) or MEDALLION_PII_SALT"
        )
    return LOCAL_SALT


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
    started_at: str = field(default_factory=lambda: _now())
    reference_flags: set[str] = field(default_factory=set)
    ingested: list[dict[str, Any]] = field(default_factory=list)
    clock: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return self.contract.dataset

    @property
    def partitions(self) -> list[str]:
        return self.contract.partition_columns

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.clock
        print(f"silver: {self.name}: [{elapsed:5.1f} s] {message}", flush=True)

    def run(self) -> dict[str, Any] | None:
        batches = self.pending_batches()
        if batches is None:
            self.log("no bronze data; skipped")
            return None
        if not batches:
            self.log("no new bronze batches")
            return {"rows_in": 0, "bronze_runs": [], "status": "unchanged"}
        bronze = self.spark.read.parquet(self.lake.bronze(self.name)).where(
            F.col("run_id").isin(batches)
        )
        references = self.reference_keys()
        self.reference_flags = set(references)
        drift = self.schema_drift(batches)
        evaluated, checks = self.evaluate(bronze, references)
        observed = Observation(f"silver_{self.name}")
        checked = self.stage(evaluated.observe(observed, *self.batch_aggregates(checks)))
        try:
            stats = self.measure(observed.get, checked)
            self.log(f"checked {stats['rows_in']} rows from bronze batches {', '.join(batches)}")
            verdicts = [*self.verdicts(stats, checks, references), self.drift_verdict(drift)]
            failed = gate_failures(verdicts)
            # The quarantine is written whatever the gate says: alongside the publish.
            with ThreadPoolExecutor(max_workers=1) as alongside:
                quarantined = alongside.submit(self.write_quarantine, checked)
                if failed:
                    written = {"rows_silver": stats["clean"], "rows_duplicate": 0, "partitions": []}
                    self.log("quality gate failed, batch not published: " + "; ".join(failed))
                else:
                    written = self.publish(checked, stats, batches)
                quarantined.result()
            self.log(f"quarantined {stats['quarantined']} rows")
        finally:
            self.files.delete(self.lake.silver_checked(self.name))
        return self.record(batches, stats, verdicts, written, failed, drift)

    # --- inputs -------------------------------------------------------------------------------
    def pending_batches(self) -> list[str] | None:
        """Bronze batches not yet published to silver (all of them on a full refresh)."""
        manifests = self.files.read_json_lines(self.lake.ingest_manifest(self.name))
        self.ingested = manifests
        ingested = sorted({m["run_id"] for m in manifests if m.get("rows", 0) > 0})
        if not ingested:
            return None
        if self.full_refresh:
            return ingested
        done = {
            batch
            for summary in self.files.read_json_lines(
                f"{self.lake.quality_runs}/dataset={self.name}"
            )
            if summary.get("published")
            for batch in summary.get("bronze_runs", [])
        }
        return [b for b in ingested if b not in done]

    def schema_drift(self, batches: list[str]) -> SchemaDrift:
        """How the columns of the batches' files (as bronze recorded them) differ from the
        contract's; files from before bronze recorded columns are left out."""
        columns = {
            entry["path"]: entry["columns"]
            for entry in self.ingested
            if entry["run_id"] in batches and entry.get("rows", 0) > 0 and "columns" in entry
        }
        return schema_drift(self.contract, columns)

    def drift_verdict(self, drift: SchemaDrift) -> Verdict:
        verdict = schema_drift_verdict(self.contract, drift)
        if verdict.status in {"warn", "fail"}:
            self.log(f"schema drift ({verdict.status}): {verdict.message}")
        return verdict

    def reference_keys(self) -> dict[str, DataFrame]:
        """For each foreign key, the distinct keys of the referenced silver dataset, if present."""
        keys: dict[str, DataFrame] = {}
        for rule in self.contract.row_rules + self.contract.dataset_rules:
            if rule.reference is None or ref_flag(rule) in keys:
                continue
            path = self.lake.silver(rule.reference.dataset)
            if not self.files.exists(path):
                continue
            column = rule.reference.column
            keys[ref_flag(rule)] = (
                self.spark.read.parquet(path).select(F.col(column).alias("_ref_key")).distinct()
            )
        return keys

    # --- checks -------------------------------------------------------------------------------
    def evaluate(
        self, bronze: DataFrame, references: dict[str, DataFrame]
    ) -> tuple[DataFrame, list[RowCheck]]:
        typed = type_columns(bronze, self.contract)
        for flag, keys in references.items():
            column = flag.removeprefix("_ref_").split("__")[0]
            matched = keys.select("_ref_key", F.lit(True).alias(flag))
            typed = typed.join(F.broadcast(matched), typed[column] == matched["_ref_key"], "left")
            typed = typed.drop("_ref_key").withColumn(flag, F.coalesce(F.col(flag), F.lit(False)))
        pii = set(self.contract.pii)
        checks = parse_checks(self.contract, pii)
        unparsed = unparsed_flags(self.contract)
        for rule in self.contract.row_rules:
            has_ref = rule.reference is not None and ref_flag(rule) in references
            check = row_rule_check(rule, pii, unparsed, has_ref)
            if check is not None:
                checks.append(check)
        evaluated = apply_row_checks(typed, checks)
        dated = add_date_partitions(evaluated, self.contract.business_date, self.partitions)
        return dated, checks

    def batch_aggregates(self, checks: list[RowCheck]) -> list[Column]:
        """The counts the verdicts need, observed while the batch is staged: no pass of its own.

        Distinct counts cannot be observed; ``measure`` takes them from the staged copy.
        """
        clean = F.size("dq_failed_rules") == 0
        aggs = [
            F.count(F.lit(1)).alias("rows_in"),
            F.sum(F.when(~clean, 1).otherwise(0)).alias("quarantined"),
            F.sum(F.when(clean & (F.size("dq_warnings") > 0), 1).otherwise(0)).alias("flagged"),
            # Observed values cross py4j as Java objects: strings and numbers only.
            F.concat_ws(
                ",", F.collect_set(F.when(clean, partition_label_column(self.partitions)))
            ).alias("touched"),
        ]
        for i, check in enumerate(checks):
            rule_failed = F.array_contains(
                "dq_failed_rules" if check.severity == "error" else "dq_warnings", check.rule_id
            )
            aggs.append(F.sum(F.when(rule_failed, 1).otherwise(0)).alias(f"row_{i}"))
        for i, rule in enumerate(self.contract.dataset_rules):
            aggs += self.dataset_rule_aggregates(i, rule, clean)
        return aggs

    def measure(self, observed: dict[str, Any], checked: DataFrame) -> dict[str, Any]:
        """The observed counts, with the distinct counts of uniqueness rules from the copy."""
        row = dict(observed)
        distinct = self.distinct_aggregates(F.size("dq_failed_rules") == 0)
        if distinct:
            row |= checked.agg(*distinct).collect()[0].asDict()
        row["rows_in"] = int(row["rows_in"])
        row["quarantined"] = int(row["quarantined"] or 0)
        row["flagged"] = int(row["flagged"] or 0)
        row["clean"] = row["rows_in"] - row["quarantined"]
        row["touched"] = sorted(
            tuple(int(part) for part in label.split("-"))
            for label in (row["touched"] or "").split(",")
            if label
        )
        for i, rule in enumerate(self.contract.dataset_rules):
            latest = row.get(f"ds_{i}_latest")
            if rule.type == "freshness" and latest:
                row[f"ds_{i}_latest"] = date.fromisoformat(latest)
        return row

    def distinct_aggregates(self, clean: Column) -> list[Column]:
        """Distinct keys in scope, for each uniqueness rule.

        Distinct 64-bit hashes rather than distinct structs: a hash aggregate instead of a sort;
        a collision (odds ~n²/2⁶⁵) could only hide a repeat, never invent one. PII columns are
        hashed in the copy by then, which keeps distinct values distinct.
        """
        aggs = []
        for i, rule in enumerate(self.contract.dataset_rules):
            if rule.type == "uniqueness":
                key = F.xxhash64(*[F.col(c) for c in rule.columns])
                aggs.append(
                    F.count_distinct(F.when(clean & self.rule_scope(rule), key)).alias(
                        f"ds_{i}_distinct"
                    )
                )
        return aggs

    @staticmethod
    def rule_scope(rule: Rule) -> Column:
        """A dataset rule's ``where``, false where it is NULL; true without one."""
        return F.coalesce(F.expr(rule.where), F.lit(False)) if rule.where else F.lit(True)

    def dataset_rule_aggregates(self, i: int, rule: Rule, clean: Column) -> list[Column]:
        scope = clean & self.rule_scope(rule)
        if rule.type == "completeness":
            return [
                F.sum(F.when(scope, 1).otherwise(0)).alias(f"ds_{i}_checked"),
                F.sum(F.when(scope & F.col(rule.column or "").isNull(), 1).otherwise(0)).alias(
                    f"ds_{i}_failed"
                ),
            ]
        if rule.type == "uniqueness":
            return [F.sum(F.when(scope, 1).otherwise(0)).alias(f"ds_{i}_checked")]
        if rule.type == "referential_integrity":
            if rule.reference is None:
                return []
            flag = ref_flag(rule)
            column = F.col(rule.column or "")
            checked = scope & column.isNotNull()
            if flag not in self.reference_flags:
                return [F.sum(F.when(checked, 1).otherwise(0)).alias(f"ds_{i}_checked")]
            return [
                F.sum(F.when(checked, 1).otherwise(0)).alias(f"ds_{i}_checked"),
                F.sum(F.when(checked & ~F.col(flag), 1).otherwise(0)).alias(f"ds_{i}_failed"),
            ]
        if rule.type == "freshness":
            latest = F.max(F.when(scope, F.to_date(rule.column or "")))
            return [latest.cast("string").alias(f"ds_{i}_latest")]
        return []

    def verdicts(
        self, stats: dict[str, Any], checks: list[RowCheck], references: dict[str, DataFrame]
    ) -> list[Verdict]:
        rows_in, clean = stats["rows_in"], stats["clean"]
        out = [
            row_verdict(c, "parse" if c.rule_type in {"well_formed", "parseable"} else "row",
                        rows_in, int(stats[f"row_{i}"] or 0))
            for i, c in enumerate(checks)
        ]  # fmt: skip
        ran = {c.rule_id for c in checks}
        for rule in self.contract.row_rules:
            if rule.id not in ran and rule.reference is not None:
                why = f"skipped: {rule.reference.dataset} is not in silver"
                out.append(skipped_verdict(rule, why))
        for i, rule in enumerate(self.contract.dataset_rules):
            out.append(self.dataset_verdict(i, rule, stats, rows_in, clean, references))
        return out

    def dataset_verdict(
        self,
        i: int,
        rule: Rule,
        stats: dict[str, Any],
        rows_in: int,
        clean: int,
        references: dict[str, DataFrame],
    ) -> Verdict:
        def value(name: str) -> int:
            return int(stats.get(f"ds_{i}_{name}") or 0)

        if rule.type == "row_count":
            return row_count_verdict(rule, clean)
        if rule.type == "quarantine_ratio":
            return ratio_verdict(rule, rows_in, stats["quarantined"], "rows quarantined")
        if rule.type == "completeness":
            return ratio_verdict(rule, value("checked"), value("failed"), f"{rule.column} missing")
        if rule.type == "uniqueness":
            dupes = value("checked") - value("distinct")
            return ratio_verdict(rule, value("checked"), dupes, f"repeated {rule.target}")
        if rule.type == "referential_integrity":
            assert rule.reference is not None  # validated on load
            if ref_flag(rule) not in references:
                why = f"skipped: {rule.reference.dataset} is not in silver"
                return skipped_verdict(rule, why)
            what = f"{rule.column} not in {rule.reference.dataset}"
            return ratio_verdict(rule, value("checked"), value("failed"), what)
        if rule.type == "freshness":
            return freshness_verdict(rule, stats.get(f"ds_{i}_latest"), datetime.now(UTC).date())
        raise ValueError(rule.type)  # pragma: no cover

    def stage(self, evaluated: DataFrame) -> DataFrame:
        """Write the checked batch once, PII hashed, and read it back (the write also yields the
        batch's counts: see ``batch_aggregates``).

        Parsing (dates, decimals, regexes) and the row checks are the expensive part of silver:
        the counts, the quarantine and the publish read this copy instead of repeating them. A
        Parquet copy rather than Spark's cache: on the 1M-line benchmark building the cache took
        longer than writing the copy and held gigabytes of heap. Hashing here keeps PII in clear
        text out of the copy; the checks that need clear values have run.
        """
        self.files.delete(self.lake.silver_checked(self.name))  # left by a run that crashed
        path = self.lake.silver_checked(self.name, self.run_id)
        kept = [c for c in evaluated.columns if not c.startswith("_unparsed_")]
        hash_pii(evaluated.select(*kept), self.pii_columns(), self.salt).write.mode(
            "overwrite"
        ).parquet(path)
        return self.spark.read.parquet(path)

    def pii_columns(self) -> list[str]:
        """The typed PII columns and, since a rejected line could hold PII anywhere, the raw
        source values of PII columns and the whole line of a malformed record."""
        contract = self.contract
        if not contract.pii:
            return []
        sources = [c.source for c in contract.columns if c.name in contract.pii]
        return [*contract.pii, *[raw_name(s) for s in sources], "_corrupt_record"]

    # --- outputs ------------------------------------------------------------------------------
    def read_silver(self, path: str) -> DataFrame:
        """This dataset's silver rows; partition values are read as strings, so cast them back."""
        frame = self.spark.read.parquet(path)
        return frame.withColumns({p: F.col(p).cast("int") for p in self.partitions})

    def write_quarantine(self, checked: DataFrame) -> None:
        """The rejected rows, with their raw values (PII hashed) and the rules they failed."""
        rejected = checked.where(F.size("dq_failed_rules") > 0)
        rejected.select(
            *quarantine_columns(self.contract),
            F.lit(self.run_id).alias("silver_run_id"),
            F.current_timestamp().alias("quarantined_at"),
        ).write.mode("overwrite").partitionBy("ingest_date", "run_id").parquet(
            self.lake.quarantine(self.name)
        )

    def publish(
        self, checked: DataFrame, stats: dict[str, Any], batches: list[str]
    ) -> dict[str, Any]:
        """Rewrite the touched partitions with existing and new rows, deduplicated."""
        contract = self.contract
        columns = silver_columns(contract)
        new = checked.where(F.size("dq_failed_rules") == 0).select(*columns, *self.partitions)
        path = self.lake.silver(self.name)
        existing = None
        touched = list(stats["touched"])
        if self.files.exists(path) and not self.full_refresh:
            existing = self.read_silver(path).where(~F.col("_ingest_run_id").isin(batches))
            if contract.dedupe_strategy == "latest_per_key":
                keys = new.select(*contract.key).distinct()
                moved = existing.join(keys, list(contract.key), "left_semi").select(
                    *self.partitions
                )
                touched = sorted(set(touched) | {tuple(r) for r in moved.distinct().collect()})
            existing = existing.where(partition_filter(touched, self.partitions)).select(
                *columns, *self.partitions
            )
        before = existing.count() if existing is not None else 0
        if existing is not None:
            self.log(f"{before} rows already in the {len(touched)} partitions to rewrite")
        candidates = new if existing is None else existing.unionByName(new)
        if contract.dedupe_strategy == "exact":
            # One shuffle by date serves both the dedupe and the partitioned write.
            by_day = candidates.repartition(*self.partitions)
            result = keep_first_of_exact_duplicates(
                by_day, contract.silver_columns, self.partitions
            )
        elif contract.business_date in contract.key:
            # The key fixes the date partition: one shuffle by date serves the ranking too.
            by_day = candidates.repartition(*self.partitions)
            result = keep_latest_per_key(
                by_day, contract.key, contract.dedupe_order_by, within=self.partitions
            )
        else:
            result = keep_latest_per_key(candidates, contract.key, contract.dedupe_order_by)
            result = result.repartition(*self.partitions)
        result = result.select(*columns, *self.partitions)
        if before:
            # Never overwrite a path while reading it: stage the rewritten partitions first.
            staging = self.lake.silver_staging(self.name, self.run_id)
            result.write.mode("overwrite").parquet(staging)
            result = self.spark.read.parquet(staging).repartition(*self.partitions)
        writer = result.write.mode("overwrite").partitionBy(*self.partitions)
        if self.full_refresh:
            writer = writer.option("partitionOverwriteMode", "static")
        writer.parquet(path)
        if before:
            self.files.delete(self.lake.silver_staging(self.name, self.run_id))
        self.log(f"rewrote {len(touched)} partitions")
        after = self.read_silver(path).where(partition_filter(touched, self.partitions)).count()
        duplicates = stats["clean"] + before - after
        return {
            "rows_silver": stats["clean"] - duplicates,
            "rows_duplicate": duplicates,
            "partitions": [partition_label(t) for t in touched],
        }

    def record(
        self,
        batches: list[str],
        stats: dict[str, Any],
        verdicts: list[Verdict],
        written: dict[str, Any],
        failed: list[str],
        drift: SchemaDrift,
    ) -> dict[str, Any]:
        """Write this run's rule results and ledger summary to quality/."""
        finished = _now()
        base = f"dataset={self.name}/run_id={self.run_id}"
        self.files.write_json_lines(
            f"{self.lake.quality_results}/{base}/results.json",
            [v.record(self.run_id, self.name, finished) for v in verdicts],
        )
        warned = any(v.status == "warn" for v in verdicts)
        status = "failed" if failed else ("warned" if warned else "passed")
        summary = {
            "run_id": self.run_id,
            "dataset": self.name,
            "bronze_runs": batches,
            "rows_in": stats["rows_in"],
            "rows_silver": written["rows_silver"],
            "rows_quarantined": stats["quarantined"],
            "rows_duplicate": written["rows_duplicate"],
            "rows_flagged": stats["flagged"],
            "status": status,
            "published": not failed,
            "failed_rules": failed,
            "warned_rules": [v.rule_id for v in verdicts if v.status == "warn"],
            "partitions_written": written["partitions"],
            "schema_drift": drift.summary(),
            "started_at": self.started_at,
            "finished_at": finished,
        }
        self.files.write_json_lines(f"{self.lake.quality_runs}/{base}/summary.json", [summary])
        self.log(
            f"{summary['rows_in']} in = {summary['rows_silver']} silver + "
            f"{summary['rows_quarantined']} quarantined + {summary['rows_duplicate']} duplicates "
            f"({status})"
        )
        return summary


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat()


if __name__ == "__main__":
    main()
