"""End-to-end tests of the gold Glue entry script on a tiny silver lake, run as `medallion run` runs
it: launched as Glue launches it, in the session's warm job host (tests/conftest.py: job_runner)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from jobs.gold import job as gold_job
from medallion.local.jobrunner import JobResult

ALL_MARTS = {
    "sales_daily",
    "product_monthly",
    "inventory_health",
    "customer_rfm",
    "customer_lifetime",
    "cohort_retention",
    "customer_value",
    "customer_value_model",
}
ORDER_LINES = (
    "invoice_no string, stock_code string, description string, quantity int, "
    "invoiced_at timestamp, unit_price decimal(12,3), customer_id bigint, country string, "
    "is_cancellation boolean, is_product boolean, line_amount decimal(18,3), "
    "dq_warnings array<string>, _ingest_run_id string"
)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _line(
    invoice: str,
    code: str,
    qty: int,
    at: str,
    price: str,
    customer: int | None,
    country: str = "United Kingdom",
) -> tuple:
    amount = (qty * Decimal(price)).quantize(Decimal("0.001"))
    return (
        invoice,
        code,
        f"item {code}",
        qty,
        _ts(at),
        Decimal(price),
        customer,
        country,
        invoice.startswith("C"),
        code != "POST",
        amount,
        [],
        "bronze-1",
    )


LINES = [
    _line("536365", "85123A", 6, "2024-01-30 08:26:00", "2.550", 17850),
    _line("536365", "POST", 1, "2024-01-30 08:26:00", "18.000", 17850),
    _line("536366", "22633", 2, "2024-01-30 23:59:00", "1.850", 13047, "France"),
    _line("C536367", "85123A", -2, "2024-02-01 09:00:00", "2.550", 17850),
    _line("536368", "22633", 4, "2024-02-02 10:00:00", "1.850", None),
    _line("536369", "85123A", 3, "2024-02-03 11:00:00", "2.550", 13047, "France"),
]


def _write_silver(
    spark: SparkSession, frame: DataFrame, root: Path, dataset: str, date_column: str
) -> None:
    """Write a silver table the way the silver job lays it out: hive year/month/day partitions."""
    from pyspark.sql import functions as F

    day = F.to_date(date_column)
    (
        frame.withColumn("year", F.year(day))
        .withColumn("month", F.month(day))
        .withColumn("day", F.dayofmonth(day))
        .write.partitionBy("year", "month", "day")
        .mode("overwrite")
        .parquet(str(root / "silver" / dataset))
    )


@pytest.fixture(scope="module")
def full_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gold_full_lake")
    _write_silver(
        spark, spark.createDataFrame(LINES, ORDER_LINES), root, "order_lines", "invoiced_at"
    )
    products = spark.createDataFrame(
        [
            ("85123A", "WHITE HANGING HEART", "Home", _ts("2023-01-01 00:00:00")),
            ("22633", "HAND WARMER", "Gifts", _ts("2023-01-01 00:00:00")),
        ],
        "stock_code string, description string, category string, updated_at timestamp",
    )
    _write_silver(spark, products, root, "products", "updated_at")
    inventory = spark.createDataFrame(
        [(date(2024, 2, 3), "85123A", "LON", 0, 0), (date(2024, 2, 3), "22633", "LON", 60, 0)],
        "snapshot_date date, stock_code string, warehouse string, on_hand int, on_order int",
    )
    _write_silver(spark, inventory, root, "inventory", "snapshot_date")
    reviews = spark.createDataFrame(
        [
            ("r1", "85123A", 17850, 5, _ts("2024-01-31 12:00:00")),
            ("r2", "85123A", 13047, 4, _ts("2024-01-31 13:00:00")),
        ],
        "review_id string, stock_code string, customer_id bigint, rating int, created_at timestamp",
    )
    _write_silver(spark, reviews, root, "reviews", "created_at")
    return root


def _dict(value: object) -> dict[str, object]:
    assert isinstance(value, dict)
    return value


def _mart(root: Path, name: str) -> pd.DataFrame:
    frame = pd.read_parquet(root / "gold" / name)
    # The partition column is a categorical of the months read: compare its text.
    if "year_month" in frame:
        frame["year_month"] = frame["year_month"].astype(str)
    return frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)


def test_full_lake_builds_every_mart_and_a_rerun_changes_nothing(
    full_lake: Path, job_runner: Callable[..., JobResult]
) -> None:
    first = job_runner("gold", {"lake_root": str(full_lake), "run_id": "gold-1"})
    assert first.state == "SUCCEEDED", first.error_message
    assert first.summary["empty"] == {}
    assert first.summary["observation_end"] == "2024-02-03"
    assert set(_dict(first.summary["marts"])) == ALL_MARTS
    before = {name: _mart(full_lake, name) for name in ALL_MARTS}
    assert first.summary["marts"] == {name: len(frame) for name, frame in before.items()}

    sales = before["sales_daily"]
    assert list(zip(sales.sales_date.astype(str), sales.country, strict=True)) == [
        ("2024-01-30", "France"),
        ("2024-01-30", "United Kingdom"),
        ("2024-02-01", "United Kingdom"),
        ("2024-02-02", "United Kingdom"),
        ("2024-02-03", "France"),
    ]
    # 6 x 2.55 + 18.00 postage on 30 Jan in the UK; the cancellation books on 1 Feb.
    assert sales.gross_revenue.tolist()[1] == Decimal("33.30")
    assert sales.cancelled_value.tolist()[2] == Decimal("5.10")
    assert sales.orders.tolist()[2] == 0
    inventory = before["inventory_health"].set_index("stock_code")
    assert bool(inventory.loc["85123A", "needs_reorder"]) is True  # out, nothing on order
    assert inventory.loc["22633", "units_sold_28d"] == 6
    product = before["product_monthly"].set_index(["stock_code", "month"])
    assert product.loc[("85123A", date(2024, 1, 1)), "review_count"] == 2
    assert product.loc[("85123A", date(2024, 1, 1)), "category"] == "Home"
    rfm = before["customer_rfm"].set_index("customer_id")
    assert sorted(rfm.index) == [13047, 17850]
    # One repeat customer cannot be fitted: the mart says so, the run succeeds with a warning.
    value = before["customer_value"]
    assert sorted(value.customer_id) == [13047, 17850]
    assert (value.model_status == "failed").all()
    assert value.p_alive.isna().all() and value.clv_12m.isna().all()
    assert (value.churn_risk == "unknown").all()
    assert _dict(first.summary["customer_value"])["status"] == "failed"
    reasons = _dict(_dict(first.summary["customer_value"])["reasons"])
    assert reasons["bg_nbd"] == "too few repeat customers: 1 (at least 10 needed)"
    results = full_lake / "quality" / "results" / "dataset=customer_value" / "run_id=gold-1"
    records = [json.loads(x) for f in results.glob("*.json") for x in f.read_text().splitlines()]
    status = {r["rule_id"]: (r["status"], r["severity"], r["message"]) for r in records}
    assert status["customer_value_bg_nbd_fit"] == ("warn", "warn", reasons["bg_nbd"])
    assert status["customer_value_gamma_gamma_fit"][0] == "warn"
    model = before["customer_value_model"]
    assert model.status.tolist() == ["failed"] and not model.bg_nbd_converged[0]

    # The re-run goes through the same body in this process: a second JVM would only add
    # start-up time, and nothing in the job depends on the process.
    assert first.summary["mode"] == "full"
    # The marts that grow with time are partitioned by month, one file per month.
    months = sorted(p.name for p in (full_lake / "gold" / "sales_daily").iterdir() if p.is_dir())
    assert months == ["year_month=2024-01", "year_month=2024-02"]
    second = gold_job.body(["job.py", "--lake_root", str(full_lake), "--run_id", "gold-2"])
    # Nothing changed in silver: no partition is rewritten and silver is not read; the customer
    # marts' inputs (the activity, the observation end, the value settings) are those of the
    # first run, so they are kept as published: nothing is written, the model is not fitted
    # again (its history keeps the first run's row only) and the activity is not read.
    assert second["mode"] == "incremental"
    assert second["marts"] == dict.fromkeys(_dict(first.summary["marts"]), 0)
    assert second["customer_value"] == {**_dict(first.summary["customer_value"]), "fitted": False}
    assert _dict(first.summary["customer_value"])["fitted"] is True
    record = json.loads((full_lake / "_meta" / "gold" / "runs" / "gold-2.json").read_text())
    assert record["mode"] == "incremental" and record["rows_read"] == second["rows_read"] == 0
    assert record["rows_read_by_input"] == {}
    assert record["partitions_rewritten"] == dict.fromkeys(ALL_MARTS, 0)
    for name in ALL_MARTS:
        pd.testing.assert_frame_equal(_mart(full_lake, name), before[name])
    assert not (
        full_lake / "quality" / "results" / "dataset=customer_value" / "run_id=gold-2"
    ).exists()
    # Another observation end is another input: the customer marts are computed again.
    third = gold_job.body(
        [
            "job.py",
            "--lake_root",
            str(full_lake),
            "--run_id",
            "gold-3",
            "--observation_end",
            "2024-03-31",
        ]
    )
    assert third["customer_value"]["fitted"] is True
    assert third["marts"]["customer_rfm"] == len(before["customer_rfm"])
    models = pd.read_parquet(full_lake / "gold" / "customer_value_model")
    assert sorted(models.run_id) == ["gold-1", "gold-3"]
    first_row = models[models.run_id == "gold-1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(first_row, before["customer_value_model"], check_like=True)


def test_only_order_lines_writes_every_mart_and_says_which_are_empty_and_why(
    full_lake: Path, tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    shutil.copytree(full_lake / "silver" / "order_lines", tmp_path / "silver" / "order_lines")
    result = job_runner(
        "gold",
        {"lake_root": str(tmp_path), "run_id": "gold-only-lines", "observation_end": "2024-02-01"},
    )
    assert result.state == "SUCCEEDED", result.error_message
    assert result.summary["empty"] == {"inventory_health": "needs inventory"}
    assert set(_dict(result.summary["marts"])) == ALL_MARTS
    assert _dict(result.summary["marts"])["inventory_health"] == 0
    # The mart exists, with no rows and the columns a full lake gives it: its view answers.
    empty = pd.read_parquet(tmp_path / "gold" / "inventory_health")
    full = pd.read_parquet(full_lake / "gold" / "inventory_health")
    assert len(empty) == 0
    assert list(empty.columns) == list(full.columns)
    product = _mart(tmp_path, "product_monthly")
    assert product.category.isna().all()
    assert (product.review_count == 0).all()
    assert product.avg_rating.isna().all()
    lifetime = _mart(tmp_path, "customer_lifetime").set_index("customer_id")
    # Lines after the given observation end (2 and 3 Feb) are left out of the customer marts.
    assert lifetime.loc[13047, ["frequency", "recency", "T"]].tolist() == [0, 0, 2]
    assert (lifetime.observation_end == date(2024, 2, 1)).all()


def test_a_bad_argument_fails_with_a_message(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    result = job_runner(
        "gold", {"lake_root": str(tmp_path), "run_id": "g", "observation_end": "yesterday"}
    )
    assert result.state == "FAILED"
    assert "observation_end" in result.error_message


def test_a_silver_directory_without_parquet_counts_as_missing(
    spark: SparkSession, tmp_path: Path
) -> None:
    from jobs.common.contracts import load_contracts_dir
    from jobs.common.lake import LakePaths
    from jobs.gold.inputs import read_silver, silver_schemas

    schemas = silver_schemas(spark, load_contracts_dir(Path(__file__).parents[3] / "contracts"))
    (tmp_path / "silver" / "reviews" / "year=2024").mkdir(parents=True)
    (tmp_path / "silver" / "reviews" / "_SUCCESS").write_text("")
    paths = LakePaths(str(tmp_path))
    assert read_silver(spark, paths, "reviews", schemas["reviews"]) is None
    assert read_silver(spark, paths, "products", schemas["products"]) is None
    reasons = gold_job.empty_reasons({"order_lines": None}, has_sales=False)
    assert set(reasons) == {m.name for m in gold_job.MARTS}
    assert reasons["inventory_health"] == "needs inventory and order_lines"
    assert reasons["sales_daily"] == "needs order_lines"
    lines = spark.createDataFrame([], schemas["order_lines"])
    reasons = gold_job.empty_reasons({"order_lines": lines}, has_sales=False)
    assert reasons["sales_daily"] == "needs order_lines with at least one row"
    assert reasons["inventory_health"] == "needs inventory"


def test_gold_state_is_read_as_it_was_left_absent_cut_short_old_or_whole(
    spark: SparkSession, tmp_path: Path
) -> None:
    """What gold finds of its state decides a full refresh, and says why in the run record."""
    from jobs.common.lake import LakeFiles, LakePaths
    from jobs.gold.changes import STATE_VERSION, read_state, write_state

    files, paths = LakeFiles(spark), LakePaths(str(tmp_path))
    assert read_state(files, paths) == (None, "gold has not run on this lake")
    write_state(files, paths, {"consumed": {"order_lines": ["r1"]}})
    state, why = read_state(files, paths)
    assert (state, why) == ({"consumed": {"order_lines": ["r1"]}, "version": STATE_VERSION}, "")
    state_file = tmp_path / "_meta" / "gold" / "state.json"
    for checksum in state_file.parent.glob(".*.crc"):
        checksum.unlink()  # rewritten here, not through Hadoop
    state_file.write_text(json.dumps({"version": STATE_VERSION - 1}))
    assert read_state(files, paths) == (
        None,
        f"gold's tables were written with state version {STATE_VERSION - 1}, "
        f"today's is {STATE_VERSION}",
    )
    state_file.write_text(state_file.read_text()[:5])  # a kill mid-write
    state, why = read_state(files, paths)
    assert state is None and why.startswith("gold's state is unreadable (")
