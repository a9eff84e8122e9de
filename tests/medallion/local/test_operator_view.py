"""What an operator sees through the CLI, with stand-in jobs (no JVM): history never overwritten,
logs that hold each job's whole output, queries that survive a rewrite, a demo that keeps
``./lake``, a failed run's alert said once after its error."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from orchestration_support import free_port, launching_standin_jobs, standin_runner
from typer.testing import CliRunner

from medallion.cli import app
from medallion.local import jobhost, ledger, pipeline, rewrites
from medallion.local.jobrunner import REPO_ROOT, JobOutput
from medallion.local.services import AlertSettings

VIEWS = [("v_sample", "CREATE OR REPLACE VIEW gold.v_sample AS SELECT id, amount FROM gold.sample")]


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> AlertSettings:
    """``medallion run`` with stand-in jobs and no SMTP server listening."""
    nobody = AlertSettings(host="127.0.0.1", port=free_port(), timeout=2)
    monkeypatch.setattr(
        pipeline,
        "LocalRunConfig",
        functools.partial(
            pipeline.LocalRunConfig,
            alerts=nobody,
            views=VIEWS,
            job_runner=standin_runner,
            crawler_max_polls=30,
        ),
    )
    # The command starts its job runner before it builds the config: the stand-ins there too.
    monkeypatch.setattr(jobhost, "launching_jobs", launching_standin_jobs)
    return nobody


def run_cli(lake: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["run", "--lake", str(lake), *args])
    return str(result.output)


def test_a_rerun_under_the_same_run_id_appends_to_the_logs(
    tmp_path: Path, standin: AlertSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    run_cli(lake, "--run-id", "again-1")
    monkeypatch.setenv("MEDALLION_STANDIN_FAIL", "silver")
    run_cli(lake, "--run-id", "again-1")

    logs = lake / "_meta" / "logs" / "again-1"
    silver = (logs / "silver.log").read_text()
    # The first attempt's output is still there, the second's below it.
    assert silver.count("=== silver job run") == 2
    assert silver.index("MEDALLION_SUMMARY") < silver.index("silver: working")
    assert (logs / "bronze.log").read_text().count("MEDALLION_SUMMARY") == 2
    assert "MEDALLION_SUMMARY" in (logs / "gold.log").read_text()


def test_a_failed_run_says_once_after_its_error_where_the_alert_copy_is(
    tmp_path: Path, standin: AlertSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDALLION_STANDIN_FAIL", "bronze")
    output = run_cli(tmp_path / "lake", "--run-id", "nosmtp-2")

    assert "Connection refused" not in output and "Errno" not in output
    [note] = [line for line in output.splitlines() if "alert not delivered" in line]
    assert output.index("FAILED at Bronze job") < output.index(note)
    [copy] = (tmp_path / "lake" / "_meta" / "alerts").glob("*.json")
    assert f"no SMTP server at 127.0.0.1:{standin.port}" in note
    assert str(copy) in output.replace("\n", "")


def test_the_job_output_keeps_the_summary_line() -> None:
    lines: list[str] = []
    output = JobOutput(lines.append)
    output.add('MEDALLION_SUMMARY {"marts": {"a": 1}}\n')
    output.add("gold: done\n")

    assert lines == ['MEDALLION_SUMMARY {"marts": {"a": 1}}', "gold: done"]
    assert output.summary == {"marts": {"a": 1}}


def write_quality_run(lake: Path, name: str, run_id: str, finished: str, rows: int) -> None:
    folder = lake / "quality" / "runs" / "dataset=order_lines" / f"run_id={run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "run_id": run_id,
        "dataset": "order_lines",
        "rows_in": rows,
        "rows_silver": rows,
        "rows_quarantined": 0,
        "rows_duplicate": 0,
        "rows_flagged": 0,
        "status": "passed",
        "failed_rules": [],
        "finished_at": finished,
    }
    (folder / name).write_text(json.dumps(record) + "\n")


def test_the_ledger_shows_the_latest_attempt_of_a_run(tmp_path: Path) -> None:
    write_quality_run(tmp_path, "summary-20240101T000000000000.json", "r1", "2024-01-01T00:00", 5)
    write_quality_run(tmp_path, "summary-20240102T000000000000.json", "r1", "2024-01-02T00:00", 7)

    [row] = ledger.read_ledger(tmp_path, "r1")
    assert row.rows_in == 7


def test_a_query_racing_a_rewrite_of_its_table_waits_for_the_files(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    mart = lake / "gold" / "sample"
    mart.mkdir(parents=True)
    table = pa.table({"id": [1, 2, 3]})
    pq.write_table(table, mart / "part-0.parquet")
    sql = "select count(*) as n from gold.sample"
    assert CliRunner().invoke(app, ["query", "--lake", str(lake), sql]).exit_code == 0
    stop = threading.Event()

    def rewrite() -> None:
        # As Spark's overwrite does: the folder goes, files appear under _temporary, then commit.
        while not stop.is_set():
            shutil.rmtree(mart)
            time.sleep(0.05)
            (mart / "_temporary" / "0").mkdir(parents=True)
            pq.write_table(table, mart / "_temporary" / "0" / "part-0.parquet")
            time.sleep(0.05)
            (mart / "_temporary" / "0" / "part-0.parquet").rename(mart / "part-0.parquet")
            shutil.rmtree(mart / "_temporary")
            time.sleep(0.02)

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        results = [
            CliRunner().invoke(app, ["query", "--lake", str(lake), "--format", "csv", sql])
            for _ in range(15)
        ]
    finally:
        stop.set()
        writer.join()
    assert [r.exit_code for r in results] == [0] * 15, [r.output for r in results]
    assert all(r.stdout.splitlines()[-1] == "3" for r in results)


def test_the_demo_works_in_a_directory_of_its_own(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "demo.sh", repo / "scripts" / "demo.sh")
    (repo / "scripts" / "setup.sh").write_text("true\n")
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    medallion = bin_dir / "medallion"
    medallion.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/../../calls.txt"\n')
    medallion.chmod(0o755)
    (repo / "lake" / "gold").mkdir(parents=True)
    (repo / "lake" / "gold" / "mine.parquet").write_text("a user's lake")

    done = subprocess.run(
        ["bash", str(repo / "scripts" / "demo.sh")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ORDER_LINES": "10"},
    )

    assert done.returncode == 0, done.stderr
    assert (repo / "lake" / "gold" / "mine.parquet").read_text() == "a user's lake"
    assert "demo/" in done.stdout
    calls = (repo / "calls.txt").read_text()
    assert "--lake demo/lake" in calls and "--out demo/sample/landing" in calls


def test_a_run_with_nothing_new_says_so_and_shows_the_latest_ledger(
    tmp_path: Path, standin: AlertSettings
) -> None:
    lake = tmp_path / "lake"
    write_quality_run(lake, "summary-20240101T000000000000.json", "r0", "2024-01-01T00:00", 5)
    output = run_cli(lake, "--run-id", "quiet-1")

    assert "No silver runs recorded yet" not in output
    assert "Nothing new arrived" in output and "latest ledger, of run r0" in output
    assert "Conservation ledger" in output


def test_a_file_listed_then_rewritten_under_its_name_counts_as_a_rewrite(tmp_path: Path) -> None:
    """The race the test above can lose under load: DuckDB lists part-0.parquet, the job removes
    the folder and commits part-0.parquet again before the query opens it. DuckDB's message names
    the file; the file is there again, so the query tries again instead of failing."""
    mart = tmp_path / "gold" / "sample"
    mart.mkdir(parents=True)
    gone = mart / "part-0.parquet"
    message = f'IO error: No files found that match the pattern "{gone}"'
    assert not rewrites.being_rewritten(message)  # settled without the file: a real error
    pq.write_table(pa.table({"id": [1]}), gone)
    assert rewrites.being_rewritten(message)  # written again under its name
    shutil.rmtree(mart)
    assert rewrites.being_rewritten(message)  # the folder is being replaced


def test_a_rewrite_caught_with_its_folder_emptied_but_not_yet_removed_is_waited_for(
    tmp_path: Path,
) -> None:
    """The race CI lost: shutil.rmtree had removed the mart's files but not yet its folder when
    the query looked, which one look takes for a table settled without files."""
    mart = tmp_path / "gold" / "sample"
    mart.mkdir(parents=True)
    message = f'IO error: No files found that match the pattern "{mart}/*.parquet"'
    assert not rewrites.being_rewritten(message)  # one look: settled without files
    remover = threading.Timer(0.1, mart.rmdir)
    remover.start()
    try:
        assert rewrites.settling(message)  # looked at for a while: the folder goes
    finally:
        remover.join()
    mart.mkdir()
    started = time.monotonic()
    assert not rewrites.settling(message)  # an empty folder that stays is a real error
    assert time.monotonic() - started >= rewrites.QUIET_SECONDS
    assert not rewrites.settling("Binder Error: column x not found")  # not an IO error: at once
