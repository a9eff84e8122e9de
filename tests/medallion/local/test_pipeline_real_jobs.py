"""The pipeline definition executed locally with the real bronze, silver and gold jobs on generated
data, and faults injected against the real engine: each run FAILED at the right state, exactly one
email naming the state and the cause, and the lake left re-runnable to the same gold rows.

Every job run starts a JVM, so one fault-free run is shared (module scope) and each fault works on
a copy of the lake, with the layers the fault does not concern standing as already done. The runs
use one warm job host, as `medallion run` does, except the re-run after a killed gold job, which
runs a process per job: its comparison of gold rows also shows that both ways of running a job
give the same gold."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from orchestration_support import SmtpServer, body_of

from jobs.common.runtime import JIT_SETTING
from medallion.aws.stepfunctions import RunOptions
from medallion.local import catalog, pipeline
from medallion.local.jobhost import JobHostRunner
from medallion.local.jobrunner import REPO_ROOT, JobResult, entry_script, job_arguments
from medallion.local.services import LocalServices
from medallion.sample.generate import generate
from medallion.spec.views import view_statements

pytestmark = pytest.mark.slow

ORDER_LINES = 400
SEED = 11


def gold_rows(lake: Path) -> dict[str, pd.DataFrame]:
    """Every gold mart's rows, sorted, from the Parquet files Athena would read."""
    marts = {}
    for mart in sorted(p for p in (lake / "gold").iterdir() if p.is_dir()):
        files = [
            str(f)
            for f in sorted(mart.rglob("*.parquet"))
            if not any(part.startswith(("_", ".")) for part in f.relative_to(mart).parts)
        ]
        frame = duckdb.sql(
            f"select * from read_parquet({files!r}, hive_partitioning = true, union_by_name = true)"
        ).df()
        if mart.name == "customer_value_model":
            # one row per run, the runs' history: a re-run ends with the uninterrupted run's
            # latest fit, under its own run id and time
            frame = frame.sort_values("fitted_at").tail(1).drop(columns=["run_id", "fitted_at"])
        marts[mart.name] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return marts


def assert_same_gold(lake: Path, expected: Mapping[str, pd.DataFrame]) -> None:
    actual = gold_rows(lake)
    assert sorted(actual) == sorted(expected)
    for mart, frame in expected.items():
        pd.testing.assert_frame_equal(actual[mart], frame, check_dtype=False, obj=mart)


def already_done(layer: str, options: Mapping[str, str], **_: Any) -> JobResult:
    """Stands for a job whose output the copied lake already holds."""
    return JobResult(layer, 0, 0.0, "", {"already_done": True})


def runner(real: set[str], real_job: Callable[..., JobResult]) -> Callable[..., JobResult]:
    def run(layer: str, options: Mapping[str, str], **kwargs: Any) -> JobResult:
        if layer in real:
            return real_job(layer, options, **kwargs)
        return already_done(layer, options)

    return run


@dataclass
class Baseline:
    landing: Path
    lake: Path
    after_bronze: Path
    run: pipeline.LocalRun
    gold: dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hosts(quick_jit: dict[str, str]) -> Iterator[JobHostRunner]:
    """The jobs run as `medallion run` runs them: in a warm job host, one after another. A job
    that fails retires its host and the next gets a new one (test_jobhost.py)."""
    with JobHostRunner(quick_jit) as warm:
        yield warm


@pytest.fixture
def inbox(smtp: SmtpServer) -> SmtpServer:
    smtp.inbox.messages.clear()
    return smtp


def config(
    lake: Path, landing: Path, smtp: SmtpServer, **overrides: Any
) -> pipeline.LocalRunConfig:
    values: dict[str, Any] = {
        "lake": lake,
        "landing": landing,
        "alerts": smtp.settings(),
        "crawler_max_polls": 60,
    }
    values.update(overrides)
    return pipeline.LocalRunConfig(**values)


@pytest.fixture(scope="module")
def baseline(
    tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer, hosts: JobHostRunner
) -> Baseline:
    root = tmp_path_factory.mktemp("baseline")
    landing, lake, after_bronze = root / "landing", root / "lake", root / "after_bronze"
    generate(landing, ORDER_LINES, SEED)

    def snapshot_after_bronze(layer: str, options: Mapping[str, str], **kwargs: Any) -> JobResult:
        result = hosts(layer, options, **kwargs)
        if layer == "bronze" and result.state == "SUCCEEDED":
            shutil.copytree(lake, after_bronze, ignore=shutil.ignore_patterns("_catalog"))
        return result

    run = pipeline.run_local(
        config(lake, landing, smtp, job_runner=snapshot_after_bronze),
        RunOptions(run_id="base-1"),
    )
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    return Baseline(landing, lake, after_bronze, run, gold_rows(lake))


def copy_lake(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "lake"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("_catalog", "alerts"))
    return target


def test_a_fault_free_run_goes_through_every_state_and_leaves_gold_queryable(
    baseline: Baseline, smtp: SmtpServer
):
    run = baseline.run
    entered = {e.state for e in run.events if e.kind == "entered"}
    for state in ("Bronze job", "Silver job", "Gold job", "Get gold crawler", "Run succeeded"):
        assert state in entered
    assert {s for s in entered if s.startswith("Create view ")} == {
        f"Create view {name}" for name, _ in view_statements()
    }
    assert smtp.inbox.messages == [] and run.alerts == []
    bronze, silver, gold = (run.summaries[layer] for layer in ("bronze", "silver", "gold"))
    assert bronze["datasets"]["order_lines"]["rows"] == ORDER_LINES
    for summary in silver["datasets"].values():
        assert summary["rows_in"] == (
            summary["rows_silver"] + summary["rows_quarantined"] + summary["rows_duplicate"]
        )
    assert gold["marts"]["sales_daily"] == len(baseline.gold["sales_daily"]) > 0
    revenue = catalog.execute(str(baseline.lake), "select count(*) as n from v_monthly_revenue")
    assert revenue["n"].iloc[0] > 0


def expect_one_alert(smtp: SmtpServer, run: pipeline.LocalRun, state: str) -> str:
    assert run.status == "FAILED"
    assert run.failed_state == state
    [message] = smtp.inbox.messages
    assert (
        message["Subject"]
        == f"[medallion] local run {run.execution_arn.rsplit(':', 1)[1]} FAILED at {state}"
    )
    body = body_of(message)
    assert f"State: {state}" in body and f"Cause: {run.cause}" in body
    return body


def test_a_job_that_raises_fails_at_gold_and_leaves_gold_as_it_was(
    baseline: Baseline, inbox: SmtpServer, hosts: JobHostRunner, tmp_path: Path
):
    lake = copy_lake(baseline.lake, tmp_path)
    run = pipeline.run_local(
        config(lake, baseline.landing, inbox, job_runner=runner({"gold"}, hosts)),
        RunOptions(run_id="raises-1", observation_end="2011-02-30"),
    )

    body = expect_one_alert(inbox, run, "Gold job")
    assert run.cause.startswith("gold job failed: JobArgumentError: --observation_end '2011-02-30'")
    assert "Error: Glue job run FAILED" in body
    assert_same_gold(lake, baseline.gold)


def writing(folder: Path, since: float) -> bool:
    """Whether a job has begun changing a folder: a staging dir, a new file, or a deletion."""
    try:
        return any("_temporary" in p.parts or p.stat().st_mtime > since for p in folder.rglob("*"))
    except OSError:  # a file vanished under the scan: the job is replacing its output
        return True


def kill_mid_write(layer: str, options: Mapping[str, str], **kwargs: Any) -> JobResult:
    """Run the real job and SIGKILL it as soon as it starts writing its output. Its JVM
    compiles as a small `medallion run`'s does (C1 only)."""
    lake = Path(options["lake_root"]) / layer
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), JIT_SETTING: "quick"}
    command = [sys.executable, str(entry_script(layer)), *job_arguments(options)]
    started = time.time()
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as process:
        while process.poll() is None:
            if writing(lake, started):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.05)
        code = process.wait()
    assert code == -signal.SIGKILL, f"{layer} ended ({code}) before it was killed"
    return JobResult(layer, code, time.time() - started, f"{layer} job killed by SIGKILL", {})


def test_a_job_killed_mid_write_fails_and_a_rerun_restores_the_same_gold(
    baseline: Baseline, inbox: SmtpServer, hosts: JobHostRunner, tmp_path: Path
):
    lake = copy_lake(baseline.lake, tmp_path)
    # On the baseline's own lake gold has nothing to write (no new order line, the customer
    # marts' inputs unchanged). Its state as a lake upgraded from before gold recorded those
    # inputs: the customer marts are computed again, and the kill comes as they are written.
    state_path = lake / "_meta" / "gold" / "state.json"
    state = json.loads(state_path.read_text())
    del state["customers"]
    state_path.write_text(json.dumps(state))
    killed = pipeline.run_local(
        config(lake, baseline.landing, inbox, job_runner=runner({"gold"}, kill_mid_write)),
        RunOptions(run_id="killed-1"),
    )

    expect_one_alert(inbox, killed, "Gold job")
    assert killed.cause == "gold job killed by SIGKILL"

    inbox.inbox.messages.clear()
    rerun = pipeline.run_local(
        config(lake, baseline.landing, inbox, job_runner=runner({"gold"}, hosts)),
        RunOptions(run_id="killed-1"),
    )
    assert rerun.status == "SUCCEEDED", (rerun.error, rerun.cause)
    assert inbox.inbox.messages == []
    assert_same_gold(lake, baseline.gold)


def test_a_failing_error_severity_rule_fails_silver_with_the_rule_and_the_numbers(
    baseline: Baseline, inbox: SmtpServer, hosts: JobHostRunner, tmp_path: Path
):
    contracts = tmp_path / "contracts"
    shutil.copytree(REPO_ROOT / "contracts", contracts)
    order_lines = contracts / "order_lines.yaml"
    text = order_lines.read_text()
    tightened = text.replace(
        "type: quarantine_ratio\n    max_fail_ratio: 0.10",
        "type: quarantine_ratio\n    max_fail_ratio: 0.001",
    )
    assert tightened != text
    order_lines.write_text(tightened)
    lake = copy_lake(baseline.after_bronze, tmp_path)

    run = pipeline.run_local(
        config(
            lake,
            baseline.landing,
            inbox,
            contracts_root=contracts,
            job_runner=runner({"silver", "gold"}, hosts),
        ),
        RunOptions(run_id="quality-1"),
    )

    body = expect_one_alert(inbox, run, "Silver job")
    assert "order_lines_quarantine_ratio" in run.cause
    assert "over the limit of 0.10%" in run.cause
    assert "order_lines_quarantine_ratio" in body
    # The failure says why rows were quarantined: the rules that quarantined the most rows,
    # each with one of its reasons, as the quarantine silver wrote has them.
    commonest = duckdb.sql(
        "select rule, count(*) as n, min(list_filter(dq_reasons, r -> starts_with(r, rule || "
        "': '))[1]) as example from (select unnest(dq_failed_rules) as rule, dq_reasons from "
        f"read_parquet('{lake}/quarantine/order_lines/**/*.parquet')) "
        "group by rule order by n desc, rule limit 3"
    ).fetchall()
    said = "; ".join(
        f"order_lines: {rule} ({n} row{'' if n == 1 else 's'}, e.g. {example[len(rule) + 2 :]})"
        for rule, n, example in commonest
    )
    assert run.cause.endswith(f"; commonest quarantine reasons: {said}")
    assert not (lake / "silver" / "order_lines").exists() or not any(
        (lake / "silver" / "order_lines").rglob("*.parquet")
    )

    inbox.inbox.messages.clear()
    rerun = pipeline.run_local(
        config(lake, baseline.landing, inbox, job_runner=runner({"silver", "gold"}, hosts)),
        RunOptions(run_id="quality-1"),
    )
    assert rerun.status == "SUCCEEDED", (rerun.error, rerun.cause)
    assert_same_gold(lake, baseline.gold)


class StuckSilverCrawler(LocalServices):
    """The silver crawler never becomes READY; the others crawl for real."""

    def start_crawler(self, crawler_name: str, targets: Mapping[str, Any]) -> Any:
        if self.crawlers[crawler_name] != "silver":
            return super().start_crawler(crawler_name, targets)

        class Running:
            state = "RUNNING"
            error_message = ""

            def wait(self, timeout: float | None = None) -> None:
                """It never ends: returns at once, as it would after the timeout."""

        return Running()


def test_a_crawler_that_never_becomes_ready_fails_at_its_poll_and_a_rerun_completes(
    baseline: Baseline, inbox: SmtpServer, tmp_path: Path
):
    lake = copy_lake(baseline.lake, tmp_path)
    cfg = config(lake, baseline.landing, inbox, crawler_max_polls=4, job_runner=already_done)
    services = pipeline.local_services(cfg, StuckSilverCrawler)
    run = pipeline.run_local(cfg, RunOptions(run_id="crawl-1"), services=services)

    expect_one_alert(inbox, run, "Silver crawler READY?")
    assert run.cause == "crawler medallion-local-silver still RUNNING after 4 polls of 1 s"
    assert not any(e.state.startswith("Create view") for e in run.events)

    inbox.inbox.messages.clear()
    rerun = pipeline.run_local(cfg, RunOptions(run_id="crawl-1"))
    assert rerun.status == "SUCCEEDED", (rerun.error, rerun.cause)
    assert_same_gold(lake, baseline.gold)
    rows = catalog.execute(str(lake), "select count(*) as n from v_customer_segments")
    assert rows["n"].iloc[0] > 0
