"""Shared test fixtures: one local SparkSession, and one lake written by the real pipeline.

``pipeline_lake`` is the lake of one ``medallion run`` on generated sample data, made once per
test session (1-2 minutes) and shared by every test that reads a lake: the catalog, the views,
``medallion query`` and ``report``, the dashboard. Its gold, silver and quality files are what the
jobs write, so no test restates their schemas. Tests read it and never change it; a test that
changes a lake works on ``copy_lake(...)`` or ``lake_copy``. Tests using it are marked ``slow``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from pyspark.sql import SparkSession
from smtp_support import SmtpServer

from jobs.common.runtime import JIT_SETTING, get_spark
from medallion.cli.options import RUN_OPTION_ENV
from medallion.local.jobhost import JobHostRunner
from medallion.local.jobrunner import JobResult
from medallion.sample.generate import generate

REPO = Path(__file__).resolve().parents[1]
# 3,000 order lines (seed 7) give every view rows, countries with months without sales, cohorts
# with months nobody came back, stock-outs, and every quality rule evaluated.
SAMPLE_ORDER_LINES = 3000
SAMPLE_SEED = 7
RUN_ID = "tests-lake-1"
# options of `medallion run` that an environment variable could change; the run names its own


# The commands' piped output is tested as users get it, without COLUMNS. pytest imports readline,
# which puts COLUMNS and LINES into the process environment behind os.environ's back (so the
# commands a test starts, and pytest-xdist's workers, would see COLUMNS=80): unset both.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
    os.unsetenv(_name)

# the fixtures whose tests read the session's one pipeline lake
LAKE_FIXTURES = frozenset({"pipeline_lake", "copy_lake", "lake_copy"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist's ``--dist loadgroup`` (scripts/test.sh runs two workers), the
    longest first.

    A test file runs on one worker, so what its module-scoped fixtures make (a pipeline run, a
    server) is made once; every test that reads the session's pipeline lake runs on the same
    worker, so the lake is made once. Groups are handed out in collection order
    (``--no-loadscope-reorder``): the groups with the most pipeline runs (``slow`` tests) come
    first, so that a one-test file running the whole pipeline does not start last while the
    other worker idles. Without xdist the marks change nothing but the order.
    """
    groups: dict[str, str] = {}
    for item in items:
        uses_lake = LAKE_FIXTURES & set(getattr(item, "fixturenames", ()))
        groups[item.nodeid] = "pipeline_lake" if uses_lake else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    runs = Counter(groups[item.nodeid] for item in items if item.get_closest_marker("slow"))
    runs["pipeline_lake"] += 1  # the lake's own run
    items.sort(key=lambda item: -runs[groups[item.nodeid]])  # stable: a group's order kept


@pytest.fixture(autouse=True)
def _own_duckdb_connection() -> None:
    """Each test's ``duckdb.sql(...)`` runs on a connection of its own. On the process-wide default
    connection one failed query (a Parquet pattern matching no file) left every later query of
    the same xdist worker failing with "Current transaction is aborted": 20 unrelated tests
    failed with it in one run. The previous connection is not closed: a module fixture made
    before this test may still hold relations of it."""
    duckdb.set_default_connection(duckdb.connect())


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = get_spark("medallion-tests", glue=False)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def quick_jit() -> dict[str, str]:
    """The environment of a job host a test starts itself: its JVM compiles as `medallion run`
    has its jobs' JVM compile for runs of a few megabytes, which every test's is (C1 only,
    medallion/local/jit.py)."""
    return {JIT_SETTING: "quick"}


@pytest.fixture(scope="session")
def job_runner(quick_jit: dict[str, str]) -> Iterator[Callable[..., JobResult]]:
    """Runs a layer's job as ``medallion run`` does: launched as Glue launches it (a copy of the
    entry script, ``jobs`` from the jobs.zip that deploy builds), in a warm job host shared by the
    session's tests, so the tests pay for one JVM start, not one per job. A job that fails
    retires its host and the next job gets a new one. ``run_job``'s signature;
    tests/medallion/local/test_jobrunner.py covers the process-per-job launch."""
    with JobHostRunner(quick_jit) as runner:
        yield runner


def run_pipeline(landing: Path, lake: Path, run_id: str, log: Path) -> None:
    """``medallion run --landing LANDING --lake LAKE --run-id RUN_ID`` in a process of its own.

    Its own process keeps moto's ``mock_aws`` and the jobs' JVM out of the test process. The
    output goes to ``log``; a run that does not succeed fails the caller with its end.
    """
    env = {k: v for k, v in os.environ.items() if k not in RUN_OPTION_ENV}
    argv = [
        sys.executable, "-c", "from medallion.cli import app; app(prog_name='medallion')",
        "run", "--landing", str(landing), "--lake", str(lake), "--run-id", run_id,
    ]  # fmt: skip
    with log.open("w") as out:
        done = subprocess.run(
            argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env, timeout=600
        )
    if done.returncode != 0:
        pytest.fail(f"medallion run exited {done.returncode}:\n{log.read_text()[-6000:]}")


@pytest.fixture(scope="session")
def pipeline_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake of one real pipeline run on generated sample data. Read it, never change it."""
    root = tmp_path_factory.mktemp("pipeline-lake")
    landing, lake = root / "landing", root / "lake"
    generate(landing, SAMPLE_ORDER_LINES, SAMPLE_SEED)
    run_pipeline(landing, lake, RUN_ID, root / "run.log")
    return lake


@pytest.fixture(scope="session")
def copy_lake(pipeline_lake: Path) -> Callable[[Path], Path]:
    """``copy_lake(dest)``: a copy of the pipeline's lake at ``dest`` without its DuckDB catalog
    (a test that needs one builds it), for tests that change the lake."""

    def copy(dest: Path) -> Path:
        shutil.copytree(pipeline_lake, dest, ignore=shutil.ignore_patterns("_catalog"))
        return dest

    return copy


@pytest.fixture
def lake_copy(copy_lake: Callable[[Path], Path], tmp_path: Path) -> Path:
    """A copy of the pipeline's lake, without its catalog, for this test alone."""
    return copy_lake(tmp_path / "lake")


@pytest.fixture
def smtp_inbox() -> Iterator[SmtpServer]:
    """An SMTP server for this test, stopped after it: the alerts a run sent."""
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()
