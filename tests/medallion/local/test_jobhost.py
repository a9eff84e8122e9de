"""The warm job host: jobs share one worker process and JVM, but not their SQL settings, views,
arguments or environment; a failed or timed-out job retires its host; closing stops the JVM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from orchestration_support import running

from medallion.local.jobhost import JobHost, JobHostRunner, warm_hosts_enabled
from medallion.local.jobrunner import REPO_ROOT, JobResult, argv_of, glue_arguments

PROBE = """
import json, os, sys
from jobs.common.runtime import get_spark

spark = get_spark("probe")
print("PROBE " + json.dumps({
    "pid": os.getpid(),
    "app": spark.sparkContext.applicationId,
    "shuffle": spark.conf.get("spark.sql.shuffle.partitions"),
    "views": sorted(t.name for t in spark.catalog.listTables()),
    "argv": sys.argv[1:],
    "name": __name__,
    "file": __file__,
    "cwd": os.getcwd(),
    "env": os.environ.get("MEDALLION_PROBE"),
    "jobs": sys.modules["jobs"].__file__,
    "medallion_loaded": any(m.split(".")[0] in ("medallion", "infra") for m in sys.modules),
    "jvm_args": list(
        spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
        .getInputArguments()
    ),
}), flush=True)
spark.conf.set("spark.sql.shuffle.partitions", "3")
spark.range(3).createOrReplaceTempView("left_behind")
os.environ["MEDALLION_PROBE_LEAK"] = "1"
"""


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    tmp_path = tmp_path_factory.mktemp("scripts")
    bodies = {
        "probe": PROBE,
        "fail": "raise ValueError('the job broke on purpose')",
        "exit3": "import sys\nprint('leaving with 3', flush=True)\nsys.exit(3)",
        "sleep": "import time\nprint('sleeping', flush=True)\ntime.sleep(120)",
        "leak_check": "import os\nassert 'MEDALLION_PROBE_LEAK' not in os.environ, 'env leaked'",
        "medallion": "import medallion",
    }
    for name, body in bodies.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return lambda layer: tmp_path / f"{layer}.py"


@pytest.fixture(scope="module")
def runner(scripts: Callable[[str], Path]) -> Iterator[Callable[..., JobResult]]:
    """Runs a stand-in script as the gold job (its DefaultArguments) in warm hosts, shared by
    the module's tests as a run's jobs share them: each test's jobs find the host the last job
    left, a new one after a failure."""
    with JobHostRunner() as hosts:

        def run(name: str, options: dict[str, str], **kwargs: Any) -> JobResult:
            return hosts("gold", options, script=scripts(name), **kwargs)

        run.glue = hosts.glue  # type: ignore[attr-defined]
        yield run


def probe(job_runner: Callable[..., JobResult], **options: str) -> dict[str, object]:
    lines: list[str] = []
    result = job_runner("probe", options, on_line=lines.append, env={"MEDALLION_PROBE": "on"})
    assert result.state == "SUCCEEDED", result.error_message
    found = [json.loads(line[len("PROBE ") :]) for line in lines if line.startswith("PROBE ")]
    assert len(found) == 1, lines
    return found[0]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_jobs_share_the_jvm_but_start_with_fresh_settings_views_and_arguments(
    runner: Callable[..., JobResult],
):
    first = probe(runner, lake_root="/lake/a", run_id="r1")
    second = probe(runner, lake_root="/lake/b", run_id="r2")

    assert second["pid"] == first["pid"]
    assert second["app"] == first["app"]
    # The first job set 3 partitions and left a temporary view: the second sees neither.
    assert first["shuffle"] == second["shuffle"] == "8"
    assert second["views"] == []
    for seen, lake, run_id in ((first, "/lake/a", "r1"), (second, "/lake/b", "r2")):
        argv = cast(list[str], seen["argv"])
        args = dict(zip(argv[::2], argv[1::2], strict=True))
        assert (args["--lake_root"], args["--run_id"]) == (lake, run_id)
        assert args["--JOB_NAME"] == "medallion-local-gold"
    assert first["name"] == "__main__"
    assert first["env"] == "on"
    assert "-XX:TieredStopAtLevel=1" not in cast(list[str], first["jvm_args"])  # tiered: C2 too
    leak = runner("leak_check", {})
    assert leak.state == "SUCCEEDED", leak.error_message


def test_a_job_in_the_host_runs_a_script_copy_with_jobs_from_the_zip_only(
    runner: Callable[..., JobResult],
):
    seen = probe(runner, lake_root="/lake/a", run_id="r1")

    zip_path = str(runner.glue.scripts.jobs_zip)  # type: ignore[attr-defined]
    assert str(seen["jobs"]).startswith(zip_path + os.sep)
    assert not str(seen["file"]).startswith(str(REPO_ROOT))
    assert not str(seen["cwd"]).startswith(str(REPO_ROOT))
    assert seen["medallion_loaded"] is False
    imported = runner("medallion", {})
    assert imported.state == "FAILED"
    assert "No module named 'medallion'" in imported.error_message
    assert probe(runner)["name"] == "__main__"  # the host's own imports came back after the job


def test_the_host_passes_the_arguments_run_job_would(runner: Callable[..., JobResult]):
    options = {"lake_root": "/l", "run_id": "r"}
    expected = argv_of(glue_arguments("gold", options, runner.glue))  # type: ignore[attr-defined]

    argv = cast(list[str], probe(runner, **options)["argv"])

    # The same names and values, but for the run's own id.
    assert argv[::2] == expected[::2]
    assert [v for k, v in zip(argv[::2], argv[1::2], strict=True) if k != "--JOB_RUN_ID"] == [
        v for k, v in zip(expected[::2], expected[1::2], strict=True) if k != "--JOB_RUN_ID"
    ]


def test_a_failing_job_reports_its_error_and_the_next_job_gets_a_new_host(
    runner: Callable[..., JobResult],
):
    before = probe(runner)

    failed = runner("fail", {})

    assert failed.state == "FAILED"
    assert failed.exit_code == 1
    assert "ValueError: the job broke on purpose" in failed.error_message
    after = probe(runner)
    assert after["pid"] != before["pid"]
    assert after["app"] != before["app"]
    assert not alive(int(before["pid"]))  # type: ignore[call-overload]


def test_an_exit_status_is_the_jobs_own(runner: Callable[..., JobResult]):
    result = runner("exit3", {})

    assert (result.state, result.exit_code) == ("FAILED", 3)
    assert result.error_message == "leaving with 3"


def test_a_job_over_its_timeout_is_killed_with_its_host(runner: Callable[..., JobResult]):
    # The host's JVM starts before it takes a job: a first job, without a timeout, waits for it
    # however busy the machine is, so the timed job's budget is its own.
    assert runner("exit3", {}).exit_code == 3
    assert runner("leak_check", {}).state == "SUCCEEDED"  # a host that is up and warm
    started = time.monotonic()
    lines: list[str] = []

    result = runner("sleep", {}, on_line=lines.append, timeout=5)

    assert time.monotonic() - started < 60
    assert result.state == "FAILED"
    assert result.error_message == "timed out after 5 s"
    assert "sleeping" in lines
    assert probe(runner)["name"] == "__main__"  # a new host took over


def test_closing_the_host_stops_the_worker_and_its_jvm(scripts: Callable[[str], Path]):
    host = JobHost()
    with JobHostRunner() as hosts:
        args = argv_of(glue_arguments("gold", {"lake_root": "/l", "run_id": "r"}, hosts.glue))
        code, output, why = host.run(scripts("probe"), args)
    assert (code, why) == (0, ""), output.tail
    worker = host.process.pid
    jvms = [pid for pid in _children(worker)]
    assert jvms, "the worker has no JVM child"

    host.close()

    assert host.process.returncode == 0
    assert not alive(worker)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in jvms) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in jvms)


def test_the_host_setting_is_checked(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MEDALLION_JOB_HOST", raising=False)
    assert warm_hosts_enabled()
    monkeypatch.setenv("MEDALLION_JOB_HOST", "process")
    assert not warm_hosts_enabled()
    monkeypatch.setenv("MEDALLION_JOB_HOST", "sometimes")
    with pytest.raises(ValueError, match="MEDALLION_JOB_HOST must be 'warm' or 'process'"):
        warm_hosts_enabled()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == pid:
            found.append(int(entry.name))
    return found


def test_a_quick_host_s_jvm_compiles_with_c1_only(scripts: Callable[[str], Path]):
    """MEDALLION_JIT=quick, as the local runner sets it for a small delivery, reaches the JVM."""
    with JobHostRunner({"MEDALLION_JIT": "quick"}) as hosts:
        seen = probe(lambda name, options, **kw: hosts("gold", options, script=scripts(name), **kw))
    assert "-XX:TieredStopAtLevel=1" in cast(list[str], seen["jvm_args"])


def test_the_last_layer_s_host_stops_as_its_job_ends_and_a_later_job_gets_a_new_one(
    scripts: Callable[[str], Path],
):
    """A run's last job (gold) retires its host as it succeeds: the JVM stops beside the crawls
    and views instead of after them; a job after it (a retry) still runs, in a new host."""
    with JobHostRunner(last_layer="gold") as hosts:

        def run(layer: str) -> dict[str, object]:
            return probe(lambda name, opts, **kw: hosts(layer, opts, script=scripts(name), **kw))

        silver = run("silver")
        gold = run("gold")
        assert gold["pid"] == silver["pid"]  # one warm host for the run's jobs
        deadline = time.monotonic() + 60
        while alive(int(gold["pid"])) and time.monotonic() < deadline:  # type: ignore[call-overload]
            time.sleep(0.1)
        assert not alive(int(gold["pid"])), "the last job's host outlived it"  # type: ignore[call-overload]
        again = run("gold")
        assert again["pid"] != gold["pid"]


PARENT = """
import sys
from pathlib import Path
from medallion.local.jobhost import JobHost

host = JobHost()
print(host.process.pid, flush=True)
host.run(Path(sys.argv[1]), [])
"""


def test_a_worker_whose_command_was_killed_ends_with_its_jvm(tmp_path: Path):
    """The command is killed by SIGKILL while its worker runs a long job: the worker and its
    JVM end too, instead of running the job to its end against the lake."""
    started = tmp_path / "started"
    sleeper = tmp_path / "long_job.py"
    sleeper.write_text(
        f"import pathlib, time\npathlib.Path({str(started)!r}).write_text('x')\ntime.sleep(300)\n"
    )
    command = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(sleeper)], stdout=subprocess.PIPE, text=True
    )
    assert command.stdout is not None
    worker = int(command.stdout.readline())
    try:
        deadline = time.monotonic() + 600  # however long the JVM takes to start
        while not started.exists():
            assert command.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        group = [worker, *_children(worker)]
        assert len(group) >= 2, "the worker has no JVM child"
        command.kill()
        command.wait(timeout=30)
        deadline = time.monotonic() + 60
        while any(running(pid) for pid in group) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(running(pid) for pid in group)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker, signal.SIGKILL)
