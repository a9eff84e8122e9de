"""Each dataset rule type's aggregate and verdict on tiny in-line DataFrames, at the boundary."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.common.contracts import Contract, parse_contract
from jobs.common.quality import (
    Verdict,
    batch_aggregates,
    batch_stats,
    distinct_aggregates,
    gate_failures,
    verdicts,
)

TODAY = date(2024, 3, 10)
SCHEMA = "k string, v int, d date, quarantined boolean"


def contract(rule: dict[str, Any]) -> Contract:
    return parse_contract(
        "t.yaml",
        yaml.safe_dump({
            "dataset": "t", "format": "csv", "key": ["k"], "business_date": "d",
            "deduplicate": {"strategy": "exact"},
            "columns": [{"source": "K", "name": "k", "type": "string"},
                        {"source": "V", "name": "v", "type": "int"},
                        {"source": "D", "name": "d", "type": "date"}],
            "dataset_rules": [{"id": "rule", "severity": "error", **rule}],
        }),
    )  # fmt: skip


def verdict(
    spark: SparkSession,
    rule: dict[str, Any],
    rows: list[tuple],
    references: frozenset[str] = frozenset(),
) -> Verdict:
    """The rule's verdict over rows ``(k, v, d, quarantined)``, aggregated as silver does."""
    c = contract(rule)
    frame = spark.createDataFrame(rows, SCHEMA).select(
        "*",
        F.when(F.col("quarantined"), F.array(F.lit("x")))
        .otherwise(F.array())
        .alias("dq_failed_rules"),
        F.array().cast("array<string>").alias("dq_warnings"),
        (F.col("k") != "orphan").alias("_ref_k__p__k"),  # the joined lookup: found in p
    )
    values = frame.agg(*batch_aggregates(c, [], references), *distinct_aggregates(c)).collect()
    found = verdicts(c, batch_stats(values[0].asDict()), [], references, TODAY)
    assert len(found) == 1
    return found[0]


def rows(*keys: str | None, quarantined: int = 0) -> list[tuple]:
    clean = [(k, 1, date(2024, 3, 1), False) for k in keys]
    return clean + [("q", None, None, True)] * quarantined


RATIO = {"max_fail_ratio": 0.25}


@pytest.mark.parametrize(
    ("keys", "status", "failed"),
    [(("a", "b", "c", None), "pass", 1), (("a", "b", None, None), "fail", 2)],
)
def test_completeness_counts_nulls_of_clean_rows_and_passes_at_the_limit(
    spark: SparkSession, keys: tuple, status: str, failed: int
) -> None:
    got = verdict(spark, {"type": "completeness", "column": "k", **RATIO},
                  rows(*keys, quarantined=3))  # fmt: skip
    assert (got.status, got.checked, got.failed, got.threshold) == (status, 4, failed, 0.25)
    assert got.message.startswith(f"k missing: {failed} of 4 rows")


def test_completeness_where_and_warn_severity(spark: SparkSession) -> None:
    rule = {"type": "completeness", "column": "k", "where": "v = 1", "severity": "warn",
            "max_fail_ratio": 0.0}  # fmt: skip
    data = [*rows("a", None), (None, 2, None, False), (None, None, None, False)]
    got = verdict(spark, rule, data)
    assert (got.status, got.checked, got.failed) == ("warn", 2, 1)
    assert gate_failures([got]) == []


@pytest.mark.parametrize(
    ("keys", "status", "failed"),
    [(("a", "a", "b", "c"), "pass", 1), (("a", "a", "b", "b"), "fail", 2),
     (("a", None, None, "c"), "pass", 1)],
)  # fmt: skip
def test_uniqueness_counts_repeats_and_a_repeated_null_is_a_repeat(
    spark: SparkSession, keys: tuple, status: str, failed: int
) -> None:
    got = verdict(spark, {"type": "uniqueness", "columns": ["k"], **RATIO},
                  rows(*keys, quarantined=2))  # fmt: skip
    assert (got.status, got.checked, got.failed) == (status, 4, failed)
    assert got.message.startswith(f"repeated k: {failed} of 4 rows")


REFERENCE = {"type": "referential_integrity", "column": "k",
             "reference": {"dataset": "p", "column": "k"}, **RATIO}  # fmt: skip


@pytest.mark.parametrize(
    ("keys", "status", "failed"),
    [(("a", "b", "c", "orphan", None), "pass", 1), (("a", "b", "orphan", "orphan"), "fail", 2)],
)
def test_referential_integrity_checks_present_keys_against_the_reference(
    spark: SparkSession, keys: tuple, status: str, failed: int
) -> None:
    got = verdict(spark, REFERENCE, rows(*keys, quarantined=1), frozenset({"_ref_k__p__k"}))
    assert (got.status, got.checked, got.failed) == (status, 4, failed)
    assert got.message.startswith(f"k not in p: {failed} of 4 rows")


def test_referential_integrity_to_an_absent_dataset_is_skipped(spark: SparkSession) -> None:
    got = verdict(spark, REFERENCE, rows("orphan"), references=frozenset())
    assert (got.status, got.message) == ("skipped", "skipped: p is not in silver")
    assert gate_failures([got]) == []


@pytest.mark.parametrize(
    ("latest", "status"), [(date(2024, 3, 3), "pass"), (date(2024, 3, 2), "fail")]
)
def test_freshness_passes_at_exactly_max_age_days(
    spark: SparkSession, latest: date, status: str
) -> None:
    data = [("a", 1, latest, False), ("b", 1, None, False), ("q", 1, date(2024, 3, 9), True)]
    got = verdict(spark, {"type": "freshness", "column": "d", "max_age_days": 7}, data)
    age = (TODAY - latest).days
    assert (got.status, got.threshold) == (status, 7.0)
    assert got.message == f"latest d is {latest.isoformat()}, {age} days old (max 7)"


def test_freshness_without_any_date_fails(spark: SparkSession) -> None:
    got = verdict(spark, {"type": "freshness", "column": "d", "max_age_days": 7},
                  [("a", 1, None, False)])  # fmt: skip
    assert (got.status, got.message) == ("fail", "no d values to judge freshness")
    assert gate_failures([got]) == [f"rule ({got.message})"]


@pytest.mark.parametrize(("clean", "status"), [(2, "pass"), (1, "fail")])
def test_row_count_counts_clean_rows_from_min_rows(
    spark: SparkSession, clean: int, status: str
) -> None:
    got = verdict(spark, {"type": "row_count", "min_rows": 2},
                  rows(*["a"] * clean, quarantined=2))  # fmt: skip
    assert (got.status, got.checked, got.message) == (
        status,
        clean,
        f"{clean} rows, expected [2, inf]",
    )


@pytest.mark.parametrize(("quarantined", "status"), [(1, "pass"), (2, "fail")])
def test_quarantine_ratio_passes_at_exactly_max_fail_ratio(
    spark: SparkSession, quarantined: int, status: str
) -> None:
    got = verdict(spark, {"type": "quarantine_ratio", **RATIO},
                  rows(*["a"] * (4 - quarantined), quarantined=quarantined))  # fmt: skip
    assert (got.status, got.checked, got.failed) == (status, 4, quarantined)
    assert got.message.startswith(f"rows quarantined: {quarantined} of 4 rows")
