"""The local services behind moto: job runs, crawls into both catalogs, queries, and alerts."""

from __future__ import annotations

import gc
import json
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws
from orchestration_support import SmtpServer, body_of, standin_runner

from medallion.local import catalog
from medallion.local.services import (
    AlertSettings,
    LocalServices,
    ThreadWork,
    send_alert,
)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def services(lake: Path, alerts: AlertSettings | None = None) -> LocalServices:
    return LocalServices(
        lake_root=lake,
        jobs={"medallion-local-gold": "gold"},
        crawlers={"medallion-local-gold": "gold", "medallion-local-silver": "silver"},
        alerts=alerts or AlertSettings(),
        job_runner=standin_runner,
    )


def wait(work: ThreadWork) -> ThreadWork:
    work.wait(60)
    assert work.state != "RUNNING"
    return work


def test_alert_settings_come_from_the_environment_else_example_com_defaults():
    assert AlertSettings.from_env({}) == AlertSettings(
        "127.0.0.1", 1025, "medallion@example.com", ("oncall@example.com",)
    )
    settings = AlertSettings.from_env(
        {
            "MEDALLION_SMTP_HOST": "mail.example.com",
            "MEDALLION_SMTP_PORT": "2525",
            "MEDALLION_ALERT_FROM": "pipeline@example.com",
            "MEDALLION_ALERT_TO": "a@example.com, b@example.com",
        }
    )
    assert settings == AlertSettings(
        "mail.example.com", 2525, "pipeline@example.com", ("a@example.com", "b@example.com")
    )


def test_send_alert_delivers_one_plain_email(smtp: SmtpServer):
    send_alert(smtp.settings(), "[medallion] local run r FAILED at Gold job", "State: Gold job\n")

    [message] = smtp.inbox.messages
    assert message["From"] == "medallion@example.com"
    assert message["To"] == "oncall@example.com"
    assert message["Subject"] == "[medallion] local run r FAILED at Gold job"
    assert body_of(message) == "State: Gold job\n"


def test_publish_emails_and_keeps_a_copy_in_the_lake(smtp: SmtpServer, tmp_path: Path):
    local = services(tmp_path, smtp.settings())
    local.publish("arn:aws:sns:us-east-1:123456789012:alerts", "subject line", "the body")

    [copy] = local.alerts_sent
    assert copy.parent == tmp_path / "_meta" / "alerts"
    kept = json.loads(copy.read_text())
    assert kept["subject"] == "subject line" and kept["message"] == "the body"
    assert kept["delivered"] is True and kept["to"] == ["oncall@example.com"]
    assert len(smtp.inbox.messages) == 1


def test_a_job_run_is_the_layer_script_and_its_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    local = services(tmp_path)
    ok = wait(
        local.start_job_run(
            "medallion-local-gold", "jr_1", {"--lake_root": str(tmp_path), "--run_id": "r-1"}
        )
    )
    monkeypatch.setenv("MEDALLION_STANDIN_FAIL", "gold")
    failed = wait(
        local.start_job_run(
            "medallion-local-gold", "jr_2", {"--lake_root": str(tmp_path), "--run_id": "r-2"}
        )
    )

    assert ok.state == "SUCCEEDED" and ok.error_message == ""
    assert failed.state == "FAILED"
    assert failed.error_message.startswith("gold job failed: QualityGateError")
    assert local.summaries()["gold"] == {}  # the last run of the layer failed: no summary
    assert (tmp_path / "_meta" / "logs" / "r-1" / "gold.log").exists()


def test_a_crawl_registers_tables_and_partitions_in_duckdb_and_in_glue(tmp_path: Path):
    for day in ("2011-12-01", "2011-12-02"):
        folder = tmp_path / "silver" / "sales" / f"day={day}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"id": [1, 2], "amount": [1.0, 2.0]}), folder / "part-0.parquet")
    with mock_aws():
        local = services(tmp_path)
        local.region = "us-east-1"
        work = wait(local.start_crawler("medallion-local-silver", {}))
        glue = boto3.client("glue", region_name="us-east-1")
        table = glue.get_table(DatabaseName="silver", Name="sales")["Table"]
        partitions = glue.get_partitions(DatabaseName="silver", TableName="sales")["Partitions"]

    assert work.state == "SUCCEEDED", work.error_message
    assert [k["Name"] for k in table["PartitionKeys"]] == ["day"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "amount"]
    assert sorted(p["Values"][0] for p in partitions) == ["2011-12-01", "2011-12-02"]
    counted = catalog.execute(str(tmp_path), "select count(*) as n from silver.sales")
    assert counted["n"].iloc[0] == 4


def test_a_query_runs_on_the_local_catalog_and_a_bad_one_fails_with_its_message(tmp_path: Path):
    local = services(tmp_path)
    good = wait(local.start_query("select 1 as x", "gold", "wg"))
    bad = wait(local.start_query("select nope from gold.nothing", "gold", "wg"))

    assert good.state == "SUCCEEDED"
    assert bad.state == "FAILED" and "nothing" in bad.error_message


def test_thread_work_reports_the_failure_message_on_one_line():
    def body() -> None:
        raise RuntimeError("first line\n  second line")

    work = ThreadWork("t", body)
    work.wait(5)
    assert (work.state, work.error_message) == ("FAILED", "first line second line")
    started: Any = ThreadWork("s", lambda: time.sleep(0.2))
    assert started.state == "RUNNING"
    started.wait(5)
    assert started.state == "SUCCEEDED"


def test_ended_queries_are_not_kept_for_settling_and_settle_waits_for_none(tmp_path: Path):
    # `medallion serve` keeps its services for hours and starts a query per request: one that
    # has ended (its rows with it) is let go by the services once the next one starts.
    local = services(tmp_path)
    first = wait(local.start_query("select 1 as x", "gold", "wg"))
    gone = weakref.ref(first)
    del first
    second = local.start_query("select 2 as x", "gold", "wg")
    gc.collect()
    assert gone() is None
    assert local.settle(timeout=60) == [] and second.state == "SUCCEEDED"


def test_the_lakes_bucket_is_answered_from_the_lake_directory_and_no_further(tmp_path: Path):
    lake = tmp_path / "lake"
    notice = lake / "_meta" / "notices" / "r1" / "bronze.json"
    notice.parent.mkdir(parents=True)
    notice.write_text('{"refused": 0}', encoding="utf-8")
    (tmp_path / "outside.json").write_text("{}", encoding="utf-8")
    local = services(lake)

    assert local.lake_object(local.lake_bucket, "_meta/notices/r1/bronze.json") == b'{"refused": 0}'
    assert local.lake_object("another-bucket", "_meta/notices/r1/bronze.json") is None
    for missing in ("_meta/notices/r2/bronze.json", "_meta/notices", "../outside.json"):
        with pytest.raises(KeyError):
            local.lake_object(local.lake_bucket, missing)
