"""Two real runs through ``medallion run`` under one run id (the second a full refresh): the job
logs hold each job's whole output, the absent dataset is said on the console, the gold summary's
``full_refresh`` tells the truth, and the re-run adds an attempt to the quality records and the
logs without replacing the first."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest
from typer.testing import CliRunner

from medallion.cli import app
from medallion.sample.generate import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    lake = tmp_path_factory.mktemp("reruns") / "lake"
    generate(lake / "landing", 300, seed=5)
    shutil.rmtree(lake / "landing" / "customers")
    first = CliRunner().invoke(app, ["run", "--lake", str(lake), "--run-id", "r1"])
    records = lake / "quality" / "runs" / "dataset=order_lines" / "run_id=r1"
    first_records = {p.name: p.read_text() for p in records.glob("*.json")}
    first_logs = {p.name: p.read_text() for p in (lake / "_meta" / "logs" / "r1").glob("*.log")}
    second = CliRunner().invoke(
        app, ["run", "--lake", str(lake), "--run-id", "r1", "--full-refresh"]
    )
    return {
        "lake": lake,
        "first": first,
        "second": second,
        "first_records": first_records,
        "first_logs": first_logs,
    }


def summary_line(log: str) -> dict[str, Any]:
    [line] = [x for x in log.splitlines() if x.startswith("MEDALLION_SUMMARY ")]
    result: dict[str, Any] = json.loads(line.removeprefix("MEDALLION_SUMMARY "))
    return result


def test_both_runs_succeed_and_their_ledgers_balance(runs: dict[str, Any]) -> None:
    assert runs["first"].exit_code == 0, runs["first"].output
    assert runs["second"].exit_code == 0, runs["second"].output


def test_each_log_holds_its_jobs_whole_output_with_its_summary(runs: dict[str, Any]) -> None:
    logs = runs["first_logs"]
    for layer in ("bronze", "silver", "gold"):
        assert summary_line(logs[f"{layer}.log"])["run_id"] == "r1", layer
    bronze = logs["bronze.log"].splitlines()
    assert all(
        line.startswith("bronze: ") and line.count("bronze: ") == 1
        for line in bronze
        if "bronze:" in line
    )


def test_the_absent_dataset_is_said_on_the_console(runs: dict[str, Any]) -> None:
    assert "no landing files for customers" in runs["first"].output


def test_the_gold_summary_says_whether_the_run_was_a_full_refresh(runs: dict[str, Any]) -> None:
    assert summary_line(runs["first_logs"]["gold.log"])["full_refresh"] is False
    gold = (runs["lake"] / "_meta" / "logs" / "r1" / "gold.log").read_text()
    attempts = gold.split("=== gold job run")
    last = summary_line(attempts[-1])
    assert last["full_refresh"] is True
    # Both runs rebuild every mart: the first has nothing to add to, the second was asked to.
    # The run record of the id is the re-run's, with the same mode and rows read as its summary.
    assert summary_line(runs["first_logs"]["gold.log"])["mode"] == last["mode"] == "full"
    record = json.loads((runs["lake"] / "_meta" / "gold" / "runs" / "r1.json").read_text())
    assert (record["mode"], record["rows_read"]) == ("full", last["rows_read"])
    assert record["rows_read_by_input"]["silver.order_lines"] > 0


def test_a_rerun_adds_an_attempt_and_keeps_the_first(runs: dict[str, Any]) -> None:
    lake = runs["lake"]
    records = lake / "quality" / "runs" / "dataset=order_lines" / "run_id=r1"
    now = {p.name: p.read_text() for p in records.glob("*.json")}
    assert len(runs["first_records"]) == 1 and len(now) == 2
    for name, text in runs["first_records"].items():
        assert now[name] == text
    for name, text in runs["first_logs"].items():
        assert (lake / "_meta" / "logs" / "r1" / name).read_text().startswith(text)
    latest = CliRunner().invoke(
        app,
        [
            "query",
            "--lake",
            str(lake),
            "--format",
            "json",
            "select run_id, dataset from v_run_ledger where dataset = 'order_lines'",
        ],
    )
    assert latest.exit_code == 0, latest.output
    assert json.loads(latest.stdout) == [{"run_id": "r1", "dataset": "order_lines"}]
