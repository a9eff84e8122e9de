"""Silver transforms on real Spark: parsing, rules with their NULL policies, hashing, dedupe."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.common.contracts import load_contracts_dir
from jobs.common.quality import apply_row_checks, row_rule_check, unparsed_flags
from jobs.silver.transforms import (
    hash_pii,
    keep_first_of_exact_duplicates,
    keep_latest_per_key,
    parse_checks,
    type_columns,
)

CONTRACTS = load_contracts_dir(Path(__file__).resolve().parents[3] / "contracts")
ORDER_COLUMNS = CONTRACTS["order_lines"].source_columns


def bronze_orders(spark: SparkSession, rows: list[tuple]):
    """Order lines given without Description (the tests do not need one)."""
    schema = ", ".join(f"{c} string" for c in ORDER_COLUMNS)
    frame = spark.createDataFrame([(*r[:2], "A THING", *r[2:]) for r in rows], schema)
    return frame.select(
        "*",
        F.lit(None).cast("string").alias("_corrupt_record"),
        F.lit(None).cast("string").alias("_corrupt_reason"),
    )


def checked_orders(spark: SparkSession, rows: list[tuple]):
    contract = CONTRACTS["order_lines"]
    typed = type_columns(bronze_orders(spark, rows), contract)
    checks = parse_checks(contract, set())
    for rule in contract.row_rules:
        check = row_rule_check(rule, set(), unparsed_flags(contract), has_reference=False)
        if check:
            checks.append(check)
    return apply_row_checks(typed, checks)


def test_values_are_trimmed_and_parsed_by_contract_type(spark: SparkSession) -> None:
    row = checked_orders(
        spark,
        [(" 536365 ", "85123A", " 6 ", "12/1/2010 8:26", "2.55", "17850.0", "United Kingdom")],
    ).collect()[0]
    assert row["invoice_no"] == "536365" and row["quantity"] == 6
    assert row["invoiced_at"] == datetime(2010, 12, 1, 8, 26)
    assert row["unit_price"] == Decimal("2.550") and row["customer_id"] == 17850
    assert row["line_amount"] == Decimal("15.300")
    assert row["is_cancellation"] is False and row["is_product"] is True
    assert row["dq_failed_rules"] == [] and row["dq_warnings"] == []


@pytest.mark.parametrize(
    ("values", "failed", "warned"),
    [
        (("536365", "22633", "12x", "12/1/2010 8:26", "1.85", "", "France"),
         ["order_lines_quantity_parseable"], []),
        (("536365", "22633", "6", "13/45/2010 25:61", "1.85", "", "France"),
         ["order_lines_invoiced_at_parseable"], []),
        (("536365", "22633", "6", "12/1/2010 8:26", "-1.00", "", "France"),
         ["order_lines_unit_price_non_negative"], []),
        (("536365", "", "6", "12/1/2010 8:26", "1.85", "", "France"),
         ["order_lines_stock_code_not_null"], []),
        (("C536365", "22633", "6", "12/1/2010 8:26", "1.85", "", "France"),
         [], ["order_lines_cancellation_sign"]),
        (("A563185", "B", "1", "12/1/2010 8:26", "0", "", "France"),
         [], ["order_lines_invoice_no_format"]),
        (("536365", "22633", "0", "12/1/2010 8:26", "1.85", "", "France"),
         ["order_lines_quantity_nonzero"], []),
    ],
)  # fmt: skip
def test_row_rules_quarantine_or_flag_with_reasons(
    spark: SparkSession, values: tuple, failed: list[str], warned: list[str]
) -> None:
    row = checked_orders(spark, [values]).collect()[0]
    assert row["dq_failed_rules"] == failed
    assert row["dq_warnings"] == warned
    assert [r.split(":")[0] for r in row["dq_reasons"]] == failed


def test_a_null_customer_passes_rules_whose_null_policy_is_pass(spark: SparkSession) -> None:
    row = checked_orders(
        spark, [("536365", "22633", "6", "12/1/2010 8:26", "1.85", "", "")]
    ).collect()[0]
    assert row["customer_id"] is None and row["country"] is None
    assert row["dq_failed_rules"] == [] and row["dq_warnings"] == []


def test_pii_is_replaced_by_salted_sha256(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("a@example.com",), (None,)], "email string")
    hashed = [r["email"] for r in hash_pii(frame, ["email"], "salt").collect()]
    assert hashed == [hashlib.sha256(b"salta@example.com").hexdigest(), None]


def _lineage(frame):
    return frame.select(
        "*",
        F.array().cast("array<string>").alias("dq_warnings"),
        F.to_timestamp(F.col("at")).alias("_ingest_at"),
        F.lit(1).alias("year"), F.lit(1).alias("month"), F.lit(1).alias("day"),
    ).drop("at")  # fmt: skip


def test_exact_duplicates_keep_the_earliest_copy(spark: SparkSession) -> None:
    frame = _lineage(
        spark.createDataFrame(
            [("a", 1, "b2", "f2", 5, "2024-01-02"), ("a", 1, "b1", "f1", 9, "2024-01-01"),
             ("a", 2, "b1", "f1", 3, "2024-01-01"), (None, 1, "b1", "f1", 4, "2024-01-01"),
             (None, 1, "b1", "f1", 7, "2024-01-01")],
            "k string, v int, _ingest_run_id string, _ingest_file string, _ingest_line int, "
            "at string",
        )
    )  # fmt: skip
    kept = keep_first_of_exact_duplicates(frame, ["k", "v"], ["year", "month", "day"]).collect()
    assert sorted((r["k"] or "", r["v"], r["_ingest_line"]) for r in kept) == [
        ("", 1, 4), ("a", 1, 9), ("a", 2, 3),
    ]  # fmt: skip


def test_latest_per_key_prefers_the_order_column_then_the_latest_ingest(
    spark: SparkSession,
) -> None:
    frame = _lineage(
        spark.createDataFrame(
            [("c1", "2024-01-05", "old", "b1", "f", 1, "2024-01-01"),
             ("c1", "2024-02-01", "new", "b1", "f", 2, "2024-01-01"),
             ("c2", "2024-01-05", "first", "b1", "f", 3, "2024-01-01"),
             ("c2", "2024-01-05", "resent", "b2", "f", 1, "2024-03-01")],
            "id string, updated string, v string, _ingest_run_id string, _ingest_file string, "
            "_ingest_line int, at string",
        )
    )  # fmt: skip
    kept = keep_latest_per_key(frame, ["id"], ["updated"]).collect()
    assert sorted((r["id"], r["v"]) for r in kept) == [("c1", "new"), ("c2", "resent")]
