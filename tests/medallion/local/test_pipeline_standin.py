"""The pipeline definition executed locally, end to end, with stand-in jobs (no JVM): every state,
the failure paths, exactly one alert email per failure, and the CLI."""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from orchestration_support import (
    SmtpServer,
    body_of,
    free_port,
    launching_standin_jobs,
    standin_runner,
)
from typer.testing import CliRunner

from medallion.aws.stepfunctions import RunOptions
from medallion.cli import app
from medallion.cli.progress import left_out_note, state_rows
from medallion.local import catalog, jobhost, moto_patches, pipeline
from medallion.local.services import AlertSettings, LocalServices, ThreadWork
from medallion.spec.definition import render_definition

VIEWS = [("v_sample", "CREATE OR REPLACE VIEW gold.v_sample AS SELECT id, amount FROM gold.sample")]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def config(tmp_path: Path, smtp: SmtpServer, **overrides: Any) -> pipeline.LocalRunConfig:
    values: dict[str, Any] = {
        "lake": tmp_path / "lake",
        "crawler_poll_seconds": 1,
        "crawler_max_polls": 30,
        "alerts": smtp.settings(),
        "views": VIEWS,
        "job_runner": standin_runner,
    }
    values.update(overrides)
    return pipeline.LocalRunConfig(**values)


def definition_states() -> dict[str, Any]:
    subs = pipeline.substitutions(
        pipeline.LocalRunConfig(lake=Path("/lake")), "arn:aws:sns:us-east-1:123456789012:t"
    )
    states: dict[str, Any] = json.loads(render_definition(subs, VIEWS))["States"]
    return states


def entered(run: pipeline.LocalRun) -> list[str]:
    return [e.state for e in run.events if e.kind == "entered"]


def test_a_run_goes_through_every_state_of_the_success_path(tmp_path: Path, smtp: SmtpServer):
    run = pipeline.run_local(
        config(tmp_path, smtp), RunOptions(run_id="standin-1", datasets="order_lines")
    )

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    failure_handling = {
        "Describe failure",
        "Read job run",
        "Job run has message?",
        "Use job error message",
        "Read query execution",
        "Query has reason?",
        "Use query failure reason",
        "View failure named?",
        "Read failed view",
        "Name failed view",
        "Keep failed view's error",
        "Compose alert",
        "Notify failure",
        "Notify failure briefly",
        "Run failed",
        "Notify left out",  # bronze read every file
    }
    expected = {
        name
        for name in definition_states()
        if name not in failure_handling
        and not name.endswith((" failed", " timed out"))
        # only when a crawler is still running at its poll
        and not name.startswith(("Count ", "Wait for "))
    }
    assert expected - set(entered(run)) == set()
    assert smtp.inbox.messages == []
    assert run.output is not None
    assert run.output["options"] == {
        "run_id": "standin-1",
        "datasets": "order_lines",
        "observation_end": "none",
        "full_refresh": "false",
    }
    # Job results are trimmed to three fields each: the execution output stays small.
    assert set(run.output["jobs"]["bronze"]) == {"JobRunId", "JobRunState", "ExecutionTime"}


def test_each_job_gets_the_run_options_as_glue_arguments(tmp_path: Path, smtp: SmtpServer):
    lake = tmp_path / "lake"
    run = pipeline.run_local(
        config(tmp_path, smtp, landing=tmp_path / "drop"),
        RunOptions(run_id="args-1", observation_end="2011-12-09", full_refresh=True),
    )

    args = {layer: s["arguments"] for layer, s in run.summaries.items()}
    assert args["bronze"] == {
        "--lake_root": str(lake.resolve()),
        "--landing_root": str((tmp_path / "drop").resolve()),
        "--contracts_root": str(pipeline.REPO_ROOT / "contracts"),
        "--run_id": "args-1",
        "--datasets": "all",
        "--full_refresh": "true",
    }
    assert args["silver"]["--pii_salt_secret"] == ""
    assert args["gold"]["--observation_end"] == "2011-12-09"
    assert run.execution_arn.endswith(":args-1")


def test_the_crawl_and_the_views_reach_the_local_catalog(tmp_path: Path, smtp: SmtpServer):
    run = pipeline.run_local(config(tmp_path, smtp), RunOptions(run_id="catalog-1"))

    assert run.status == "SUCCEEDED"
    rows = catalog.execute(str(tmp_path / "lake"), "select sum(id) as s from gold.v_sample")
    assert rows["s"].tolist() == [6]


def test_a_job_that_raises_fails_at_its_state_with_one_email(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MEDALLION_STANDIN_FAIL", "silver")
    run = pipeline.run_local(config(tmp_path, smtp), RunOptions(run_id="raises-1"))

    assert run.status == "FAILED"
    assert run.failed_state == "Silver job"
    assert run.error == "Glue job run FAILED"
    assert "QualityGateError: rule order_lines.row_count failed" in run.cause
    assert "Gold job" not in entered(run)
    [message] = smtp.inbox.messages
    assert message["Subject"] == "[medallion] local run raises-1 FAILED at Silver job"
    assert message["To"] == "oncall@example.com"
    body = body_of(message)
    assert "State: Silver job" in body
    assert "Error: Glue job run FAILED" in body
    assert (
        "Cause: silver job failed: QualityGateError: rule order_lines.row_count failed: "
        "12 of 500 rows (2.4% > 1.0%)" in body
    )
    assert "Started: 20" in body
    assert (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/"
        "details/arn:aws:states:us-east-1:123456789012:execution:medallion-local-pipeline:raises-1"
    ) in body
    [copy] = run.alerts
    kept = json.loads(copy.read_text())
    assert copy.parent == tmp_path / "lake" / "_meta" / "alerts"
    assert kept["subject"] == message["Subject"] and kept["delivered"] is True
    # The job's own output is kept for the on-call.
    assert "silver: working" in (tmp_path / "lake/_meta/logs/raises-1/silver.log").read_text()


class StuckCrawlers(LocalServices):
    """A crawler that never becomes READY."""

    def start_crawler(self, crawler_name: str, targets: Mapping[str, Any]) -> Any:
        class Running:
            state = "RUNNING"
            error_message = ""

            def wait(self, timeout: float | None = None) -> None:
                """It never ends: returns at once, as it would after the timeout."""

        return Running()


def test_a_crawler_that_never_becomes_ready_fails_after_the_poll_budget(
    tmp_path: Path, smtp: SmtpServer
):
    cfg = config(tmp_path, smtp, crawler_max_polls=3)
    services = pipeline.local_services(cfg, StuckCrawlers)
    run = pipeline.run_local(cfg, RunOptions(run_id="stuck-1"), services=services)

    assert run.status == "FAILED"
    assert run.failed_state == "Bronze crawler READY?"
    assert run.error == "Medallion.CrawlerTimeout"
    assert run.cause == "crawler medallion-local-bronze still RUNNING after 3 polls of 1 s"
    assert entered(run).count("Get bronze crawler") == 4
    [message] = smtp.inbox.messages
    assert message["Subject"] == "[medallion] local run stuck-1 FAILED at Bronze crawler READY?"
    assert "Cause: crawler medallion-local-bronze still RUNNING after 3 polls" in body_of(message)


class SlowSilverCrawler(LocalServices):
    """The silver crawler still runs at its first two looks, then is READY."""

    def start_crawler(self, crawler_name: str, targets: Mapping[str, Any]) -> Any:
        if not crawler_name.endswith("-silver"):
            return super().start_crawler(crawler_name, targets)

        class Slow:
            looks = 0
            error_message = ""

            @property
            def state(self) -> str:
                return "RUNNING" if self.looks <= 2 else "SUCCEEDED"

            def wait(self, timeout: float | None = None) -> None:
                """A GetCrawler of a running crawl waits for it once: one look."""
                self.looks += 1

        return Slow()


def test_the_silver_and_gold_crawlers_are_looked_at_once_bronze_is_ready_and_waited_for_if_running(
    tmp_path: Path, smtp: SmtpServer
):
    cfg = config(tmp_path, smtp)
    services = pipeline.local_services(cfg, SlowSilverCrawler)
    run = pipeline.run_local(cfg, RunOptions(run_id="slow-silver-1"), services=services)

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    states = entered(run)
    # Bronze is looked at before any wait and is READY; silver, running at its first two looks,
    # is waited for twice; gold's local crawl ends within its first look, not waited for.
    assert states.index("Start crawler polls") + 1 == states.index("Get bronze crawler")
    assert "Wait for bronze crawler" not in states and "Wait for gold crawler" not in states
    assert states.count("Get silver crawler") == states.count("Wait for silver crawler") + 1 == 3
    assert states.index("Get silver crawler") < states.index("Wait for silver crawler")


def test_a_view_that_fails_names_the_view_and_the_query_error(tmp_path: Path, smtp: SmtpServer):
    views = [
        *VIEWS,
        ("v_broken", "CREATE OR REPLACE VIEW gold.v_broken AS SELECT nope FROM gold.sample"),
    ]
    run = pipeline.run_local(config(tmp_path, smtp, views=views), RunOptions(run_id="view-1"))

    assert run.status == "FAILED"
    assert run.failed_state == "Create view v_broken"
    assert run.error == "Athena query FAILED"
    assert "nope" in run.cause
    [message] = smtp.inbox.messages
    assert message["Subject"] == "[medallion] local run view-1 FAILED at Create view v_broken"
    statuses = {row.state: row.status for row in state_rows(run.events, run.failed_state)}
    assert statuses["Create view v_broken"] == "FAILED"
    assert "RUNNING" not in statuses.values(), statuses


def test_the_run_summary_shows_each_view_created_side_by_side_as_succeeded(
    tmp_path: Path, smtp: SmtpServer
):
    views = [
        (name, f"CREATE OR REPLACE VIEW gold.{name} AS SELECT id FROM gold.sample")
        for name in ("v_one", "v_two", "v_three")
    ]
    run = pipeline.run_local(config(tmp_path, smtp, views=views), RunOptions(run_id="views-2"))

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    rows = state_rows(run.events, run.failed_state)
    assert {row.state: row.status for row in rows} == {row.state: "SUCCEEDED" for row in rows}
    created = [row for row in rows if row.state.startswith("Create view ")]
    assert len(created) == 3 and all(row.seconds > 0 for row in created)


@dataclass
class SlowViewQuery(LocalServices):
    """The query creating ``v_slow`` waits two seconds before it runs."""

    queries: dict[str, ThreadWork] = field(default_factory=dict)
    _view: threading.local = field(default_factory=threading.local)

    def start_query(self, query: str, database: str, workgroup: str) -> ThreadWork:
        self._view.name = "v_slow" if "v_slow" in query else "other"
        return super().start_query(query, database, workgroup)

    def _start(self, name: str, body: Callable[[], None], settles: bool = True) -> ThreadWork:
        if name == "athena-query" and self._view.name == "v_slow":
            run_query = body

            def body() -> None:
                time.sleep(2)
                run_query()

        work = super()._start(name, body, settles)
        if name == "athena-query":
            self.queries[self._view.name] = work
        return work


def test_a_failed_view_ends_the_run_only_once_the_other_views_queries_have_ended(
    tmp_path: Path, smtp: SmtpServer
):
    # The failed branch stops the Parallel state while v_slow's query still runs; the run waits
    # for it (a process leaving DuckDB working on a thread aborts as it exits; a lake let go
    # while its catalog is written could be taken by another run), and the view is created.
    views = [
        ("v_slow", "CREATE OR REPLACE VIEW gold.v_slow AS SELECT id FROM gold.sample"),
        ("v_broken", "CREATE OR REPLACE VIEW gold.v_broken AS SELECT nope FROM gold.sample"),
    ]
    cfg = config(tmp_path, smtp, views=views)
    services = pipeline.local_services(cfg, SlowViewQuery)
    run = pipeline.run_local(cfg, RunOptions(run_id="view-3"), services=services)

    assert run.status == "FAILED" and run.failed_state == "Create view v_broken"
    assert services.queries["v_slow"].state == "SUCCEEDED"
    assert catalog.execute(str(tmp_path / "lake"), "SELECT count(*) AS n FROM v_slow")["n"][0] > 0


def test_a_views_failure_that_names_no_view_is_alerted_at_the_parallel_state(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
):
    # Every error of a view's Task is caught in its branch, which fails with Medallion.ViewFailed
    # and the view's name; a branch failing otherwise (here its Fail state raises another error)
    # is the Parallel state's own failure, alerted under its name.
    def rendered(substitutions: Mapping[str, str], views: Any) -> str:
        definition = json.loads(render_definition(substitutions, views))
        for branch in definition["States"]["Create views"]["Branches"]:
            for state in branch["States"].values():
                if state["Type"] == "Fail":
                    state["Error"] = "Other.Failure"
        return json.dumps(definition)

    monkeypatch.setattr(pipeline, "render_definition", rendered)
    views = [("v_broken", "CREATE OR REPLACE VIEW gold.v_broken AS SELECT nope FROM gold.sample")]
    run = pipeline.run_local(config(tmp_path, smtp, views=views), RunOptions(run_id="view-2"))

    assert run.status == "FAILED"
    assert run.failed_state == "Create views"
    assert run.error == "Other.Failure"
    [message] = smtp.inbox.messages
    assert message["Subject"] == "[medallion] local run view-2 FAILED at Create views"


def test_an_unreachable_smtp_server_still_fails_the_run_and_keeps_the_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MEDALLION_STANDIN_FAIL", "bronze")
    nobody = AlertSettings(host="127.0.0.1", port=free_port(), timeout=2)
    cfg = pipeline.LocalRunConfig(
        lake=tmp_path / "lake", alerts=nobody, views=VIEWS, job_runner=standin_runner
    )
    run = pipeline.run_local(cfg, RunOptions(run_id="nosmtp-1"))

    assert run.status == "FAILED" and run.failed_state == "Bronze job"
    [copy] = run.alerts
    kept = json.loads(copy.read_text())
    assert kept["delivered"] is False and kept["subject"].endswith("FAILED at Bronze job")


@pytest.fixture
def standin_cli(smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> SmtpServer:
    # The command builds its config from options; the stand-ins come in through its defaults.
    monkeypatch.setattr(
        pipeline,
        "LocalRunConfig",
        functools.partial(
            pipeline.LocalRunConfig,
            alerts=smtp.settings(),
            views=VIEWS,
            job_runner=standin_runner,
            crawler_max_polls=30,
        ),
    )
    # The command starts its job runner before it builds the config: the stand-ins there too.
    monkeypatch.setattr(jobhost, "launching_jobs", launching_standin_jobs)
    return smtp


def test_cli_run_shows_states_and_a_summary_and_exits_zero(tmp_path: Path, standin_cli):
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--lake",
            str(tmp_path / "lake"),
            "--run-id",
            "cli-1",
            "--datasets",
            "order_lines,products",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "> Bronze job" in result.output and "< Bronze job" in result.output
    assert "Pipeline run" in result.output
    assert "execution SUCCEEDED" in result.output


def test_cli_run_says_where_the_undelivered_email_of_files_not_read_is_kept(
    tmp_path: Path, standin_cli, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MEDALLION_STANDIN_REFUSED", json.dumps(REFUSED))
    # No SMTP server listens there: the email is kept in the lake, and the run still succeeds.
    unheard = AlertSettings(port=free_port())
    monkeypatch.setattr(
        pipeline, "LocalRunConfig", functools.partial(pipeline.LocalRunConfig, alerts=unheard)
    )
    lake = tmp_path / "lake"
    result = CliRunner().invoke(app, ["run", "--lake", str(lake), "--run-id", "cli-3"])

    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"alert not delivered (no SMTP server at 127.0.0.1:{unheard.port}); its copy:" in said
    assert "bronze: left out of the lake: 1 landing file not read; the alert email says" in said
    [kept] = (lake / "_meta" / "alerts").glob("*.json")
    assert json.loads(kept.read_text())["subject"].endswith("1 landing file not read")


def test_cli_run_json_prints_the_history_and_exits_non_zero_on_failure(
    tmp_path: Path, standin_cli, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MEDALLION_STANDIN_FAIL", "gold")
    result = CliRunner().invoke(
        app, ["run", "--lake", str(tmp_path / "lake"), "--run-id", "cli-2", "--json"]
    )

    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    assert printed["status"] == "FAILED" and printed["failed_state"] == "Gold job"
    types = [e["type"] for e in printed["history"]]
    assert types[0] == "ExecutionStarted" and types[-1] == "ExecutionFailed"
    assert len(standin_cli.inbox.messages) == 1


def test_the_patches_are_lifted_after_a_run(tmp_path: Path, smtp: SmtpServer):
    pipeline.run_local(config(tmp_path, smtp), RunOptions(run_id="hooks-1"))
    assert moto_patches.active_hooks() is None and not moto_patches.installed()


def test_a_subject_over_snss_limit_still_sends_one_email_under_a_short_subject(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
):
    # An execution name may have 80 characters: with it the full subject has over 100, which
    # SNS refuses (moto too); the alert goes out again under the bounded subject.
    monkeypatch.setenv("MEDALLION_STANDIN_FAIL", "silver")
    run_id = "rerun-" + "x" * 74
    run = pipeline.run_local(config(tmp_path, smtp), RunOptions(run_id=run_id))

    assert run.status == "FAILED"
    assert "Notify failure briefly" in entered(run)
    [message] = smtp.inbox.messages
    assert message["Subject"] == "[medallion] local FAILED at Silver job"
    assert f"The medallion pipeline run {run_id} in local FAILED." in body_of(message)


REFUSED = {
    "file:/drop/order_lines/Online Retail.xlsx": "not text: a spreadsheet workbook (.xlsx); "
    "bronze reads CSV or JSON Lines text (UTF-8, Windows-1252 or Latin-1): save it as CSV (UTF-8)"
}


def test_files_bronze_did_not_read_are_emailed_once_and_the_run_still_succeeds(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MEDALLION_STANDIN_REFUSED", json.dumps(REFUSED))
    run_id = "refused-" + "x" * 72  # the longest execution name: not in the subject
    run = pipeline.run_local(config(tmp_path, smtp), RunOptions(run_id=run_id))

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert "Notify left out" in entered(run)
    [message] = smtp.inbox.messages
    assert message["Subject"] == "[medallion] local run SUCCEEDED: 1 landing file not read"
    body = body_of(message)
    assert f"The medallion pipeline run {run_id} in local SUCCEEDED with 1 landing file" in body
    [(path, reason)] = REFUSED.items()
    assert f"order_lines: {path}\n  {reason}\n" in body

    # The next run refused nothing: no email, though the lake keeps the last run's notice.
    monkeypatch.delenv("MEDALLION_STANDIN_REFUSED")
    again = pipeline.run_local(config(tmp_path, smtp), RunOptions(run_id="refused-2"))
    assert again.status == "SUCCEEDED"
    assert "Anything left out?" in entered(again) and "Notify left out" not in entered(again)
    assert len(smtp.inbox.messages) == 1
    # What the run's summary says of it (medallion run, start --wait), from the history alone.
    assert (left_out_note(run.events) or "").startswith(
        "left out of the lake: 1 landing file not read;"
    )
    assert left_out_note(again.events) is None


def test_a_run_whose_notice_is_missing_succeeds_without_an_email(
    tmp_path: Path, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
):
    # A bronze job from before notices (or a notice S3 would not give): the data is in.
    monkeypatch.setenv("MEDALLION_STANDIN_NO_NOTICE", "1")
    run = pipeline.run_local(config(tmp_path, smtp), RunOptions(run_id="no-notice-1"))

    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert "Read bronze notice" in entered(run) and "Anything left out?" not in entered(run)
    assert smtp.inbox.messages == []


def test_the_short_subject_fits_snss_limit_for_every_state_and_environment() -> None:
    from infra.stack import ENV_PATTERN

    longest_env = "e" * 10
    assert re.match(ENV_PATTERN, longest_env) and not re.match(ENV_PATTERN, longest_env + "e")
    brief = definition_states()["Notify failure briefly"]["Parameters"]["Subject.$"]
    template = brief.split("'")[1].replace("local", longest_env)
    for state in definition_states():
        subject = template.replace("{}", state)
        assert len(subject) <= 100, subject
