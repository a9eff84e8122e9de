"""The keys of the silver datasets a contract's foreign keys point at, and the lookup flags."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.contracts import Contract
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.quality import ref_flag


def reference_keys(
    spark: SparkSession, files: LakeFiles, lake: LakePaths, contract: Contract
) -> dict[str, DataFrame]:
    """For each foreign key, by ``ref_flag``, the distinct keys of the referenced silver dataset;
    a reference whose dataset is not in silver is left out (its rules are skipped)."""
    keys: dict[str, DataFrame] = {}
    for rule in contract.row_rules + contract.dataset_rules:
        if rule.reference is None or ref_flag(rule) in keys:
            continue
        path = lake.silver(rule.reference.dataset)
        if not files.exists(path):
            continue
        column = rule.reference.column
        keys[ref_flag(rule)] = (
            spark.read.parquet(path).select(F.col(column).alias("_ref_key")).distinct()
        )
    return keys


def flag_references(typed: DataFrame, references: dict[str, DataFrame]) -> DataFrame:
    """Add each ``ref_flag`` column: whether the row's key is among the referenced keys.

    The keys are broadcast: a dimension's distinct keys are small next to the batch.
    """
    for flag, keys in references.items():
        column = flag.removeprefix("_ref_").split("__")[0]
        matched = keys.select("_ref_key", F.lit(True).alias(flag))
        typed = typed.join(F.broadcast(matched), typed[column] == matched["_ref_key"], "left")
        typed = typed.drop("_ref_key").withColumn(flag, F.coalesce(F.col(flag), F.lit(False)))
    return typed
