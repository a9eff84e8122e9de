"""Bronze's extraction from a real PostgreSQL server, then silver, compared with the database
by a query of its own (never with the jobs' code)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jdbc_support import Shop, extracted_of

from medallion.local.jobrunner import JobResult, run_job


def silver_by_key(shop: Shop) -> dict[int, tuple[Any, ...]]:
    rows = shop.silver()
    keys = [row["customer_id"] for row in rows]
    assert len(keys) == len(set(keys)), "duplicate keys in silver"
    return {
        row["customer_id"]: (
            row["customer_id"],
            row["customer_name"],
            row["country"],
            row["signup_date"].date(),
            row["updated_at"].to_pydatetime(),
            Decimal(str(row["credit"])).quantize(Decimal("0.01")),
            bool(row["is_deleted"]),
        )
        for row in rows
    }


def assert_silver_equals_source(shop: Shop) -> None:
    assert silver_by_key(shop) == shop.source()


def batch_keys(shop: Shop, batch: str) -> list[int]:
    return sorted(int(r["customer_id"]) for r in shop.bronze() if r["_ingest_run_id"] == batch)


def test_first_run_lands_every_row_once_and_silver_equals_the_table(
    shop: Callable[..., Shop],
) -> None:
    s = shop(rows=30)
    text = (s.contracts / "customers.yaml").read_text()
    (s.contracts / "customers.yaml").write_text(
        text.replace(
            "  soft_delete_column: is_deleted",
            "  soft_delete_column: is_deleted\n  partition_column: customer_id\n"
            "  lower_bound: 1\n  upper_bound: 30\n  num_partitions: 3",
        )
    )
    summary = extracted_of(s.run_both()["bronze"])
    assert summary["rows"] == 30 and summary["source"] == f"jdbc:postgresql/{s.schema}.customers"
    bronze = s.bronze()
    assert sorted(int(r["customer_id"]) for r in bronze) == list(range(1, 31))
    assert {r["_ingest_file"] for r in bronze} == {f"jdbc:postgresql/{s.schema}.customers"}
    assert {r["_ingest_run_id"] for r in bronze} == {summary["batch"]}
    assert len({r["_ingest_line"] for r in bronze}) == 30
    assert all(r["_corrupt_record"] is None for r in bronze)
    assert {r["credit"] for r in bronze if r["customer_id"] == "2"} == {"14.50"}
    assert {r["is_deleted"] for r in bronze if r["customer_id"] == "17"} == {"true"}
    assert_silver_equals_source(s)
    stored = s.watermark()["watermark"]
    assert stored["kind"] == "timestamp"
    assert datetime.fromisoformat(stored["value"]) == datetime(2024, 6, 1, 8, 30)


def test_changes_between_runs_are_taken_and_late_rows_caught_or_reported(
    shop: Callable[..., Shop],
) -> None:
    s = shop(rows=20)  # updated_at 08:01 ... 08:20
    assert s.run("bronze").state == "SUCCEEDED"
    s.sql(
        f"""INSERT INTO {s.schema}.customers VALUES (101, 'New', 'Italy', DATE '2024-02-01',
                TIMESTAMP '2024-06-02 09:00:00.250', 1.50, false);
        UPDATE {s.schema}.customers SET country = 'Portugal',
            updated_at = TIMESTAMP '2024-06-02 10:00:00' WHERE customer_id = 3"""
    )
    second = extracted_of(s.run("bronze"))
    # Past 08:20 less the 60-minute overlap: every row again (silver's key dedupe takes them),
    # the new one and the updated one.
    assert second["watermark_from"] == "2024-06-01T07:20:00.000000"
    assert batch_keys(s, second["batch"]) == sorted([*range(1, 21), 101])
    assert "risk" not in second

    # Committed late: one inside the hour before the watermark (10:00), one long before it.
    s.sql(
        f"""INSERT INTO {s.schema}.customers VALUES
            (201, 'Late inside', 'Spain', DATE '2024-03-01',
                TIMESTAMP '2024-06-02 09:30:00', 2, false),
            (202, 'Late outside', 'Spain', DATE '2024-03-01',
                TIMESTAMP '2024-06-01 07:00:00', 3, false)"""
    )
    third = s.run("bronze")
    extracted = extracted_of(third)
    assert batch_keys(s, extracted["batch"]) == [3, 101, 201]
    assert extracted["risk"]["late_rows"] == 1
    assert "outside the 60-minute overlap" in extracted["risk"]["message"]
    assert third.summary["risks"] == [extracted["risk"]["message"]]
    # The run's notice, which the state machine emails: those rows are not in the lake.
    run_id = f"{s.schema}-{s.runs}"
    notice = json.loads((s.lake / "_meta" / "notices" / run_id / "bronze.json").read_text())
    assert notice["headline"] == "1 source with rows committed late"
    assert f"customers: {extracted['risk']['message']}" in notice["text"]
    assert any("WARNING" in line and "1 row(s)" in line for line in s.lines)
    assert s.run("silver").state == "SUCCEEDED"
    silver = silver_by_key(s)
    assert silver[3][2] == "Portugal" and 201 in silver and 202 not in silver
    s.sql(f"DELETE FROM {s.schema}.customers WHERE customer_id = 202")
    assert_silver_equals_source(s)


def test_snapshot_mode_catches_every_late_row(shop: Callable[..., Shop]) -> None:
    s = shop(rows=10, mode="snapshot")
    assert s.run("bronze").state == "SUCCEEDED"
    s.sql(
        f"""INSERT INTO {s.schema}.customers VALUES
            (301, 'Old', 'Spain', DATE '2024-01-05', TIMESTAMP '2020-01-01 00:00:00', 0, false)"""
    )
    second = extracted_of(s.run("bronze"))
    assert second["rows"] == 11 and second["mode"] == "snapshot"
    assert s.run("silver").state == "SUCCEEDED"
    assert_silver_equals_source(s)
    assert not (s.lake / "_meta" / "watermarks").exists()


def test_unreachable_database_and_wrong_password_fail_in_one_line_then_catch_up(
    shop: Callable[..., Shop],
) -> None:
    s = shop(rows=5)
    wrong = s.postgres.url().replace(s.postgres.password, "not-the-password")
    failed = s.run("bronze", env={"MEDALLION_DB_URL": wrong})
    assert failed.state == "FAILED"
    message = failed.error_message
    assert message.startswith("bronze job failed: SourceError: customers: cannot read")
    assert f"jdbc:postgresql/{s.schema}.customers at 127.0.0.1" in message
    assert "password authentication failed" in message
    assert "\n" not in message
    output = "\n".join(s.lines)
    assert "Traceback" not in output and "not-the-password" not in output
    assert s.postgres.password not in output

    closed_port = s.postgres.url().replace(f":{s.postgres.port}/", ":1/")
    unreachable = s.run("bronze", env={"MEDALLION_DB_URL": closed_port})
    assert unreachable.state == "FAILED"
    assert "127.0.0.1:1/retail" in unreachable.error_message
    assert "refused" in unreachable.error_message.lower()
    assert not (s.lake / "_meta" / "watermarks").exists()
    assert not (s.lake / "_meta" / "ingested").exists()

    s.run_both()
    assert_silver_equals_source(s)


def test_a_column_added_in_the_source_reaches_bronze_then_silver_once_named(
    shop: Callable[..., Shop],
) -> None:
    s = shop(rows=6)
    assert s.run("bronze").state == "SUCCEEDED"
    s.sql(
        f"""ALTER TABLE {s.schema}.customers ADD COLUMN tier text;
        UPDATE {s.schema}.customers SET tier = 'gold', updated_at = updated_at + INTERVAL '1 day'
            WHERE customer_id IN (1, 2)"""
    )
    second = extracted_of(s.run("bronze"))
    assert second["extra_columns"] == ["tier"]
    tiers = {r["customer_id"]: r.get("tier") for r in s.bronze() if r.get("tier")}
    assert tiers == {"1": "gold", "2": "gold"}

    s.write_contract(extra="  - {source: tier, name: tier, type: string}")
    s.sql(
        f"UPDATE {s.schema}.customers SET tier = 'silver', updated_at = now() WHERE customer_id = 3"
    )
    third = extracted_of(s.run("bronze"))
    assert "extra_columns" not in third
    # silver takes the three batches at once: the first has no tier column, the second has it
    # as an extra column, the third as a contract column (their schemas are merged)
    silver = s.run("silver")
    assert silver.state == "SUCCEEDED", silver.error_message
    tiers = {r["customer_id"]: r["tier"] for r in s.silver()}
    assert (tiers[1], tiers[2], tiers[3], tiers[4]) == ("gold", "gold", "silver", None)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_a_run_killed_during_extraction_is_taken_again_whole(
    shop: Callable[..., Shop], tmp_path: Path
) -> None:
    s = shop(rows=25)
    # A query source that reads slowly, so the kill lands while rows are being read.
    slow = (
        (s.contracts / "customers.yaml")
        .read_text()
        .replace(
            f"  schema: {s.schema}\n  table: customers",
            f"  query: SELECT c.* FROM {s.schema}.customers c, LATERAL (SELECT pg_sleep(0.4)) z",
        )
    )
    (s.contracts / "customers.yaml").write_text(slow)
    options = {
        "lake_root": str(s.lake),
        "run_id": "killed",
        "contracts_root": str(s.contracts),
        "landing_root": str(tmp_path / "landing"),
        "datasets": "customers",
    }
    result: list[JobResult] = []
    runner = threading.Thread(
        target=lambda: result.append(
            run_job("bronze", options, env={"MEDALLION_DB_URL": s.postgres.url()}, timeout=600)
        )
    )
    # only the job this test starts is killed: the session's Spark JVM, job host and server stay
    others = set(children_of(os.getpid()))
    runner.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        reading = s.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'medallion-bronze' "
            "AND query LIKE '%pg_sleep%' AND query NOT LIKE '%MAX(%' AND state = 'active'"
        )[0][0]
        if reading:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the extraction never started")
    job = set(children_of(os.getpid())) - others
    assert job, "the job's process was not found"
    for child in job:
        os.kill(child, signal.SIGKILL)
    runner.join(60)
    assert result and result[0].state == "FAILED"
    assert not (s.lake / "_meta" / "ingested" / "customers").exists()

    (s.contracts / "customers.yaml").write_text(slow.replace("pg_sleep(0.4)", "pg_sleep(0)"))
    s.run_both(run_id="killed")
    bronze_keys = [int(r["customer_id"]) for r in s.bronze()]
    assert sorted(bronze_keys) == list(range(1, 26))  # the killed batch was removed
    assert_silver_equals_source(s)
