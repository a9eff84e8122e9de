"""Silver on files whose columns drift from the contract: reported, and failing when told to."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from medallion.local.jobrunner import JobResult

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


def review(n: int, **changes: object) -> str:
    record: dict[str, object] = {
        "review_id": f"r{n}", "stock_code": "85123A", "customer_id": 17850, "rating": 4,
        "title": "Nice", "body": "Does the job", "created_at": f"2011-03-0{n}T10:00:00Z",
    }  # fmt: skip
    record.update(changes)
    return json.dumps({k: v for k, v in record.items() if v is not None})


def write_landing(landing: Path) -> None:
    folder = landing / "reviews"
    folder.mkdir(parents=True)
    # "lang" and "year" are keys the contract does not name; year is also a silver partition.
    (folder / "app.jsonl").write_text(
        "\n".join([review(1, lang="en", year="1999"), review(2, lang="fr")]) + "\n"
    )
    # A file without the title key, under a name Spark percent-encodes.
    (folder / "web export (2).jsonl").write_text(review(3, title=None) + "\n")


def records(directory: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(directory.rglob("*.json"))
        for line in path.read_text().splitlines()
    ]


@pytest.mark.slow
def test_schema_drift_is_reported_as_a_warning_or_fails_the_run(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    lake = tmp_path / "lake"
    write_landing(tmp_path / "landing")
    options = {"lake_root": str(lake), "run_id": "r1", "datasets": "reviews",
               "landing_root": str(tmp_path / "landing")}  # fmt: skip
    bronze = job_runner("bronze", options)
    assert bronze.state == "SUCCEEDED", bronze.error_message
    assert bronze.summary["datasets"]["reviews"]["extra_columns"] == ["lang", "year"]
    kept = duckdb.sql(
        f"select review_id, lang, year from read_parquet('{lake}/bronze/reviews/**/*.parquet', "
        "union_by_name = true) order by review_id"
    ).fetchall()
    assert kept == [("r1", "en", "1999"), ("r2", "fr", None), ("r3", None, None)]
    strict_lake, strict_contracts = tmp_path / "strict-lake", tmp_path / "strict-contracts"
    shutil.copytree(lake, strict_lake)
    shutil.copytree(CONTRACTS, strict_contracts)
    reviews = strict_contracts / "reviews.yaml"
    reviews.write_text(
        reviews.read_text().replace("on_schema_change: warn", "on_schema_change: fail")
    )

    silver = job_runner("silver", options)

    assert silver.state == "SUCCEEDED", silver.error_message
    (drift,) = [
        r for r in records(lake / "quality" / "results") if r["rule_id"] == "reviews_schema_drift"
    ]
    assert (drift["severity"], drift["status"], drift["checked"], drift["failed"]) == (
        "warn", "warn", 2, 2,
    )  # fmt: skip
    assert drift["target"] == "lang,year,title"
    assert drift["message"] == (
        "columns appeared: lang (app.jsonl), year (app.jsonl); "
        "columns disappeared: title (web export (2).jsonl)"
    )
    (summary,) = records(lake / "quality" / "runs")
    assert "reviews_schema_drift" in summary["warned_rules"]
    landed = f"file:{tmp_path}/landing/reviews"
    assert summary["schema_drift"] == {
        "appeared": {"lang": [f"{landed}/app.jsonl"], "year": [f"{landed}/app.jsonl"]},
        "disappeared": {"title": [f"{landed}/web export (2).jsonl"]},
    }
    assert (summary["rows_in"], summary["rows_silver"], summary["rows_quarantined"]) == (3, 3, 0)
    assert summary["rows_in"] == (
        summary["rows_silver"] + summary["rows_quarantined"] + summary["rows_duplicate"]
    )
    rows = duckdb.sql(
        f"select review_id, title, year from read_parquet('{lake}/silver/reviews/**/*.parquet', "
        "hive_partitioning = true) order by review_id"
    ).fetchall()
    assert rows == [("r1", "Nice", 2011), ("r2", "Nice", 2011), ("r3", None, 2011)]

    strict_options = {"lake_root": str(strict_lake), "contracts_root": str(strict_contracts)}
    strict = job_runner("silver", {**options, **strict_options})

    assert strict.state == "FAILED"
    assert strict.error_message == (
        "silver job failed: QualityGateFailed: quality gate failed: reviews_schema_drift "
        "(columns appeared: lang (app.jsonl), year (app.jsonl); "
        "columns disappeared: title (web export (2).jsonl))"
    )
    assert not (strict_lake / "silver" / "reviews").exists()
