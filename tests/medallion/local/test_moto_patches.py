"""The moto patches: pinned to moto 5.2.5, needed (the bugs they fix are still there), working,
and reversible. Any of these failing after a moto upgrade means: re-check the patches."""

from __future__ import annotations

import inspect
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws
from moto.athena import models as athena_models
from moto.glue import models as glue_models
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
    state_task_service_factory,
    state_task_service_glue,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.backend import execution_worker

from medallion.local import moto_lean, moto_patches
from medallion.local.services import ThreadWork

ROLE = "arn:aws:iam::123456789012:role/medallion-test"


class Done:
    """Local work that has already ended."""

    def __init__(self, state: str = "SUCCEEDED", error: str = "") -> None:
        self.state = state
        self.error_message = error


class Recorder:
    """Hooks that record calls and end every piece of work at once."""

    def __init__(self, job_state: str = "SUCCEEDED", query_error: str = "") -> None:
        self.calls: list[tuple[str, Any]] = []
        self.job_state = job_state
        self.query_error = query_error

    def start_job_run(self, job_name: str, run_id: str, arguments: Any) -> Done:
        self.calls.append(("job", (job_name, dict(arguments))))
        error = "gold job failed: ValueError: boom" if self.job_state == "FAILED" else ""
        return Done(self.job_state, error)

    def start_crawler(self, crawler_name: str, targets: Any) -> Done:
        self.calls.append(("crawler", crawler_name))
        return Done()

    def start_query(self, query: str, database: str, workgroup: str) -> Done:
        self.calls.append(("query", (query, database, workgroup)))
        return Done("FAILED", self.query_error) if self.query_error else Done()

    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        self.calls.append(("publish", (subject, message)))


@pytest.fixture
def unpatched() -> Iterator[None]:
    moto_patches.uninstall()
    yield
    moto_patches.uninstall()


def run_machine(definition: dict[str, Any], execution_input: str = "{}") -> dict[str, Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        glue = boto3.client("glue", region_name="us-east-1")
        glue.create_job(Name="job", Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "x"})
        boto3.client("athena", region_name="us-east-1").create_work_group(Name="wg")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
        execution = sfn.start_execution(stateMachineArn=arn, name="e-1", input=execution_input)
        for _ in range(200):
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING":
                break
            time.sleep(0.1)
        described["history"] = sfn.get_execution_history(executionArn=execution["executionArn"])[
            "events"
        ]
        return described


GLUE_SYNC = {
    "StartAt": "Job",
    "States": {
        "Job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "job", "Arguments": {"--run_id.$": "$$.Execution.Name"}},
            "ResultSelector": {"State.$": "$.JobRunState"},
            "End": True,
        }
    },
}
ATHENA_SYNC = {
    "StartAt": "Query",
    "States": {
        "Query": {
            "Type": "Task",
            "Resource": "arn:aws:states:::athena:startQueryExecution.sync",
            "Parameters": {
                "QueryString": "CREATE OR REPLACE VIEW gold.v AS SELECT 1",
                "WorkGroup": "wg",
                "QueryExecutionContext": {"Database": "gold"},
            },
            "ResultSelector": {"State.$": "$.QueryExecution.Status.State"},
            "End": True,
        }
    },
}
START_TIME = {
    "StartAt": "Started",
    "States": {
        "Started": {
            "Type": "Pass",
            "Parameters": {"text.$": "States.Format('started {}', $$.Execution.StartTime)"},
            "End": True,
        }
    },
}


def test_the_patches_are_for_moto_5_2_5_only():
    assert moto.__version__ == moto_patches.MOTO_VERSION == "5.2.5"
    moto_patches.check_moto_version("5.2.5")
    with pytest.raises(moto_patches.MotoVersionError, match="re-check every patch"):
        moto_patches.check_moto_version("5.2.6")


def test_moto_still_has_the_glue_sync_bug(unpatched: None):
    """If this fails, moto fixed `.sync` for Glue: drop patch 1."""
    source = inspect.getsource(state_task_service_callback.StateTaskServiceCallback)
    assert "callback_endpoint.interrupt_all()" in source
    assert {"sync"} == state_task_service_glue._SUPPORTED_INTEGRATION_PATTERNS
    described = run_machine(GLUE_SYNC)
    assert described["status"] == "FAILED"
    assert "'NoneType' object has no attribute 'interrupt_all'" in described["cause"]


def test_moto_still_lacks_athena_sync(unpatched: None):
    """If this fails, moto routes Athena elsewhere now: re-check patch 2."""
    assert "athena" in state_task_service_factory._UNSUPPORTED_SERVICE_NAMES
    described = run_machine(ATHENA_SYNC)
    assert described["status"] == "FAILED"
    assert "Unsupported sync callback procedure" in described["cause"]


def test_moto_still_gives_start_time_as_a_datetime(unpatched: None):
    """If this fails, moto gives $$.Execution.StartTime as text now: drop patch 3."""
    described = run_machine(START_TIME)
    assert described["status"] == "FAILED"
    assert "datetime is not JSON serializable" in described["cause"]


def test_the_wrapped_moto_functions_keep_the_signatures_the_patches_rely_on(unpatched: None):
    def params(function: Any) -> list[str]:
        return list(inspect.signature(function).parameters)

    assert params(glue_models.GlueBackend.start_job_run)[:3] == ["self", "name", "arguments"]
    assert params(glue_models.FakeCrawler.start_crawler) == ["self"]
    assert isinstance(inspect.getattr_static(glue_models.FakeJobRun, "status"), property)
    assert isinstance(inspect.getattr_static(glue_models.FakeCrawl, "status"), property)
    assert isinstance(inspect.getattr_static(athena_models.Execution, "status"), property)
    assert params(athena_models.AthenaBackend.start_query_execution)[:5] == [
        "self",
        "query",
        "context",
        "config",
        "workgroup",
    ]
    assert params(state_task_factory.state_task_service_for) == ["service_name"]
    assert params(execution_worker.ExecutionWorker._get_evaluation_environment) == ["self"]
    assert params(state_task_service_callback.StateTaskServiceCallback._eval_sync) == [
        "self",
        "env",
        "sync_resolver",
        "timeout_seconds",
        "callback_endpoint",
        "heartbeat_endpoint",
    ]
    from moto.sns.models import SNSBackend

    assert params(SNSBackend.publish)[:3] == ["self", "message", "arn"]
    # Patch 12 subclasses the AWS SDK service and overrides this method.
    assert params(StateTaskServiceAwsSdk._eval_service_task) == [
        "self",
        "env",
        "resource_runtime_part",
        "normalised_parameters",
        "state_credentials",
    ]


def test_patched_glue_sync_runs_the_local_job_and_reports_its_state():
    hooks = Recorder()
    moto_patches.install(hooks)
    try:
        described = run_machine(GLUE_SYNC)
    finally:
        moto_patches.uninstall()
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"State": "SUCCEEDED"}
    [(kind, (name, arguments))] = hooks.calls
    assert (kind, name, arguments) == ("job", "job", {"--run_id": "e-1"})


def test_patched_glue_sync_fails_with_the_jobs_error_message_in_the_cause():
    moto_patches.install(Recorder(job_state="FAILED"))
    try:
        described = run_machine(GLUE_SYNC)
    finally:
        moto_patches.uninstall()
    assert described["status"] == "FAILED"
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])
    assert cause["JobRunState"] == "FAILED"
    assert cause["ErrorMessage"] == "gold job failed: ValueError: boom"


def test_patched_athena_sync_runs_the_query_locally():
    hooks = Recorder()
    moto_patches.install(hooks)
    try:
        described = run_machine(ATHENA_SYNC)
    finally:
        moto_patches.uninstall()
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert hooks.calls == [("query", ("CREATE OR REPLACE VIEW gold.v AS SELECT 1", "gold", "wg"))]


def test_patched_athena_sync_failure_carries_the_state_change_reason():
    moto_patches.install(Recorder(query_error="line 1:8: column nope not found"))
    try:
        described = run_machine(ATHENA_SYNC)
    finally:
        moto_patches.uninstall()
    assert described["status"] == "FAILED" and described["error"] == "States.TaskFailed"
    status = json.loads(described["cause"])["QueryExecution"]["Status"]
    assert status == {
        **status,
        "State": "FAILED",
        "StateChangeReason": "line 1:8: column nope not found",
    }


def test_patched_start_time_is_iso_8601_text():
    moto_patches.install(None)
    try:
        described = run_machine(START_TIME)
    finally:
        moto_patches.uninstall()
    text = json.loads(described["output"])["text"]
    assert text.startswith("started 20") and text.endswith("Z") and "T" in text


def test_without_hooks_moto_behaves_as_shipped_and_uninstall_restores_it():
    moto_patches.install(None)
    assert moto_patches.installed() and moto_patches.active_hooks() is None
    described = run_machine(GLUE_SYNC)  # moto's own job run: SUCCEEDED at once
    assert described["status"] == "SUCCEEDED"
    moto_patches.uninstall()
    assert not moto_patches.installed()
    assert "status" not in vars(glue_models.FakeJobRun)
    assert {"sync"} == state_task_service_glue._SUPPORTED_INTEGRATION_PATTERNS
    assert state_task_factory.state_task_service_for is (
        state_task_service_factory.state_task_service_for
    )


def test_local_sync_tasks_poll_their_work_often_and_uninstall_restores_moto_s_interval(
    unpatched: None,
):
    """Patch 7: moto's .sync Tasks sleep a module constant between looks at their work; if this
    fails, moto polls some other way now: re-check the patch."""
    source = inspect.getsource(state_task_service_callback.StateTaskServiceCallback)
    assert "time.sleep(_DELAY_SECONDS_SYNC_CONDITION_CHECK)" in source
    assert "sync_result = sync_resolver()" in source
    original_eval_sync = state_task_service_callback.StateTaskServiceCallback._eval_sync
    assert state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK == 0.5
    moto_patches.install(Recorder())
    try:
        patched = state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK
        described = run_machine(ATHENA_SYNC)
    finally:
        moto_patches.uninstall()
    assert patched == 0.0  # the looks themselves wait (backing_off)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK == 0.5
    assert state_task_service_callback.StateTaskServiceCallback._eval_sync is original_eval_sync


class _Clock:
    """The waits a look asks for, on a clock of the test's own: nothing signals a change."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def count(self) -> int:
        return 0

    def wait_past(self, seen: int, timeout: float) -> bool:
        self.waits.append(timeout)
        self.now += timeout
        return False


def test_a_sync_task_looks_soon_then_less_and_less_often(monkeypatch: pytest.MonkeyPatch):
    """A job of 1.2 s that nothing signals the end of: seen done within the longest wait,
    looked at a few dozen times (at the 20 ms of before, 60), and the first looks come quickly.
    On a clock of the test's own, the waits as asked for: a busy machine stretches real sleeps
    (the first wait measured 40 ms for 10 ms asked under a load of 12)."""
    clock = _Clock()
    monkeypatch.setattr(moto_lean, "CHANGES", clock)
    looks: list[float] = []

    def resolver() -> dict[str, str] | None:
        looks.append(clock.now)
        return {"JobRunState": "SUCCEEDED"} if looks[-1] >= 1.2 else None

    look = moto_lean.backing_off(resolver)
    while not look():
        pass
    waits = clock.waits
    assert looks[-1] - 1.2 <= moto_lean.SYNC_POLL_MAX_SECONDS
    assert len(looks) <= 20
    assert waits[0] <= 0.01
    assert waits == sorted(waits) and max(waits) <= moto_lean.SYNC_POLL_MAX_SECONDS
    assert waits[5] > waits[0] * 3


def test_a_sync_task_looks_as_soon_as_its_local_work_ends(monkeypatch: pytest.MonkeyPatch):
    """The end of a local work (a job run, a crawl, a query) wakes the Task's wait: with waits
    of a minute asked for, a work of 0.3 s is seen done within seconds, not a minute."""
    monkeypatch.setattr(moto_lean, "SYNC_POLL_SECONDS", 60.0)
    work = ThreadWork("test-work", lambda: time.sleep(0.3))
    looks = 0

    def resolver() -> dict[str, str] | None:
        nonlocal looks
        looks += 1
        return {"JobRunState": work.state} if work.state != "RUNNING" else None

    look = moto_lean.backing_off(resolver)
    started = time.monotonic()
    while not look():
        pass
    assert time.monotonic() - started < 20
    assert 2 <= looks <= 5  # one before the end, one woken by it (another test's work may wake one)


def test_history_events_and_the_execution_s_end_wake_a_follower():
    """Patch 11: following an execution with the local changes, looks a minute apart, sees a
    run with a one-second Wait end within seconds: its events and its end wake the follower."""
    from medallion.aws.stepfunctions import follow
    from medallion.local.changes import CHANGES

    waits = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    moto_patches.install(Recorder())
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            sfn = boto3.client("stepfunctions", region_name="us-east-1")
            arn = sfn.create_state_machine(name="m", definition=json.dumps(waits), roleArn=ROLE)[
                "stateMachineArn"
            ]
            before = CHANGES.count()
            started = time.monotonic()
            run = sfn.start_execution(stateMachineArn=arn, name="e-1")["executionArn"]
            followed = follow(run, None, poll_seconds=60, sfn=sfn, changes=CHANGES)
            took = time.monotonic() - started
            changes = CHANGES.count() - before
    finally:
        moto_patches.uninstall()
    assert followed.described["status"] == "SUCCEEDED"
    assert 1 <= took < 20
    assert changes >= len(followed.history) + 1  # every event, and the end
    assert followed.history[-1]["type"] == "ExecutionSucceeded"


def test_uninstall_restores_moto_s_event_manager_and_execution_end():
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    shipped = (EventManager.add_event, BaseExecutionWorkerCommunication.terminated)
    moto_patches.install(Recorder())
    patched = (EventManager.add_event, BaseExecutionWorkerCommunication.terminated)
    moto_patches.uninstall()
    assert patched[0] is not shipped[0] and patched[1] is not shipped[1]
    assert (EventManager.add_event, BaseExecutionWorkerCommunication.terminated) == shipped


class Crawls(Recorder):
    """Hooks whose crawls are thread works that run until ``ended`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.ended = threading.Event()

    def start_crawler(self, crawler_name: str, targets: Any) -> Any:
        self.calls.append(("crawler", crawler_name))
        return ThreadWork("crawl", self.ended.wait)


@pytest.mark.parametrize("ends_after", [0.3, None], ids=["a short crawl", "a crawl still running"])
def test_a_get_crawler_of_a_running_local_crawl_answers_at_its_end_or_after_one_poll_interval(
    ends_after: float | None,
):
    """The definition looks at the gold crawler just after starting it; a local crawl takes a
    fraction of a second, so GetCrawler answers when it ends (READY, its LastCrawl SUCCEEDED),
    and a crawl still running after CRAWL_LOOK_SECONDS is answered RUNNING then."""
    hooks = Crawls()
    moto_patches.install(hooks)
    try:
        with mock_aws():
            glue = boto3.client("glue", region_name="us-east-1")
            glue.create_crawler(Name="c", Role=ROLE, Targets={"S3Targets": [{"Path": "s3://b/"}]})
            glue.start_crawler(Name="c")
            if ends_after is not None:  # the crawl ends while the look waits
                threading.Timer(ends_after, hooks.ended.set).start()
            started = time.monotonic()
            crawler = glue.get_crawler(Name="c")["Crawler"]
            took = time.monotonic() - started
    finally:
        hooks.ended.set()
        moto_patches.uninstall()
    bound = moto_patches.CRAWL_LOOK_SECONDS
    if ends_after is not None:
        assert crawler["State"] == "READY" and crawler["LastCrawl"]["Status"] == "SUCCEEDED"
        assert ends_after - 0.05 <= took < bound + 5
    else:
        assert crawler["State"] == "RUNNING" and crawler["LastCrawl"]["Status"] == "RUNNING"
        assert bound - 0.05 <= took < bound + 5
