"""Silver's duplicates of a stream: one line per event id, the exports' exact rule beside it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.contracts import load_contracts_dir
from jobs.silver.transforms import (
    add_date_partitions,
    keep_one_per_event_or_exact,
    type_columns,
)

CONTRACT = load_contracts_dir(Path(__file__).resolve().parents[3] / "contracts")["order_lines"]
SOURCE = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country"]  # fmt: skip
BRONZE = [*SOURCE, "event_id", "sent_at", "_ingest_run_id", "_ingest_file", "_ingest_line",
          "_ingest_at"]  # fmt: skip
MUG = ["536365", "85123A", "MUG", "6", "12/1/2010 8:26", "2.55", "17850", "France"]
WARMER = ["536366", "22633", "WARMER", "2", "12/2/2010 9:00", "1.85", "", "France"]


def bronze(spark: SparkSession, rows: list[list[Any]]) -> DataFrame:
    schema = ", ".join(
        f"{c} {'int' if c == '_ingest_line' else 'timestamp' if c == '_ingest_at' else 'string'}"
        for c in BRONZE
    )
    return spark.createDataFrame([tuple(r) for r in rows], schema).select(
        "*", F.lit(None).cast("string").alias("_corrupt_record")
    )


def test_one_line_per_event_the_earliest_sent_and_exports_by_exact_duplicate(
    spark: SparkSession,
) -> None:
    day1, day2 = datetime(2026, 12, 1), datetime(2026, 12, 2)
    rows: list[list[Any]] = [
        # event a: sent three times; the second send is the earliest, it arrived in a later run
        [*MUG, "a", "2026-12-02T07:15:04.000001+00:00", "r1", "s/1.gz", 1, day1],
        [*MUG, "a", "2026-12-02T07:15:03.000001+00:00", "r2", "s/2.gz", 7, day2],
        [*MUG, "a", "2026-12-02T07:15:09+00:00", "r2", "s/2.gz", 8, day2],
        # event b: Firehose delivered the same record twice (same sent_at): earliest ingested
        [*WARMER, "b", "2026-12-02T07:16:00+00:00", "r2", "s/3.gz", 2, day2],
        [*WARMER, "b", "2026-12-02T07:16:00+00:00", "r2", "s/2.gz", 9, day2],
        # the exports: an exact duplicate is removed; a line equal to event a's values is not
        # a copy of the event, so it stays
        [*MUG, None, None, "r1", "export.csv", 2, day1],
        [*MUG, None, None, "r2", "export again.csv", 2, day2],
        [*WARMER, None, None, "r1", "export.csv", 3, day1],
    ]
    typed = type_columns(bronze(spark, rows), CONTRACT).select(
        "*", F.array().cast("array<string>").alias("dq_warnings")
    )
    dated = add_date_partitions(typed, CONTRACT.business_date, CONTRACT.partition_columns)
    assert CONTRACT.stream is not None
    kept = keep_one_per_event_or_exact(
        dated.repartition(*CONTRACT.partition_columns),
        CONTRACT.stream,
        CONTRACT.silver_columns,
        CONTRACT.partition_columns,
    )
    got = sorted(
        (r["event_id"] or "", r["invoice_no"], r["_ingest_file"], r["_ingest_line"], r["sent_at"])
        for r in kept.collect()
    )
    assert got == [
        ("", "536365", "export.csv", 2, None),
        ("", "536366", "export.csv", 3, None),
        ("a", "536365", "s/2.gz", 7, datetime(2026, 12, 2, 7, 15, 3, 1)),
        ("b", "536366", "s/2.gz", 9, datetime(2026, 12, 2, 7, 16)),
    ]
    assert set(kept.columns) >= {*CONTRACT.silver_columns, "year", "month", "day"}
