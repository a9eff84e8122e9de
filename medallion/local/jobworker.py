"""The job host's worker process: it starts Spark first, then runs each job script it is sent.

``python -m medallion.local.jobworker`` is what :class:`medallion.local.jobhost.JobHost` starts.
It reads one JSON request a line on stdin (``script``, ``argv``, ``env``) and ends each job's
output with ``MEDALLION_JOB_END <exit status>``. This module imports only what starting Spark
needs: the launcher of job scripts (:mod:`medallion.local.jobrunner`, with the AWS SDK behind it)
and the jobs' libraries are imported in a thread while the JVM boots, not before it starts.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping
from pathlib import Path

from jobs.common.runtime import get_spark
from medallion.local.parentwatch import watch_parent

JOB_END_PREFIX = "MEDALLION_JOB_END "

WARM_IMPORTS = (
    "medallion.local.jobrunner",  # launches each job script as Glue does
    "pandas",  # PySpark's createDataFrame imports it
    "pyarrow",
    "scipy.optimize",  # the customer-value fits
    "scipy.special",
    "yaml",  # the contracts
)
"""Libraries the jobs import that starting Spark does not (``pyspark.sql`` brings numpy and its
functions). The jobs' own modules come from each run's jobs.zip, but these stay imported in the
worker: imported while its JVM starts, they are not on the first job's clock."""


def _import_libraries() -> None:
    for name in WARM_IMPORTS:
        with contextlib.suppress(ImportError):  # a job that needs it reports it
            importlib.import_module(name)


def _start_spark() -> None:
    """Start the SparkContext the way the jobs do, so the first job finds it running.

    When Spark cannot start (no Java, say) nothing is started here: the job's own ``get_spark``
    then fails with its clear message.
    """
    with contextlib.suppress(Exception):  # the job reports it, in its own words
        get_spark("medallion-local-jobs")


def _fresh_session() -> None:
    """Give the next job a new SparkSession on the running SparkContext.

    A new session has the SparkContext's settings and none of the last job's runtime SQL
    settings, temporary views or functions; cached data is dropped as well.
    """
    from pyspark.sql import SparkSession  # lazy: only the worker, not its parent, starts Spark

    base = SparkSession._instantiatedSession
    if base is None or base._sc._jsc is None:
        return
    base.catalog.clearCache()
    session = base.newSession()
    SparkSession._instantiatedSession = session
    SparkSession._activeSession = session
    jvm = session._jvm
    assert jvm is not None
    jvm.SparkSession.setDefaultSession(session._jsparkSession)
    jvm.SparkSession.setActiveSession(session._jsparkSession)


def _run_script(script: str, argv: list[str], env: Mapping[str, str]) -> int:
    """Run one job script as ``__main__``, as Glue would; its exit status (0 when it returns)."""
    saved_env = dict(os.environ)
    os.environ.update(env)
    try:
        from medallion.local.jobrunner import run_script_as_glue  # imported while Spark starts

        _fresh_session()
        run_script_as_glue(Path(script), argv)
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # reported as an uncaught error in a process would be
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.environ.clear()
        os.environ.update(saved_env)


def serve() -> None:
    """The worker's loop: start Spark, then run each requested script until stdin closes."""
    watch_parent()
    threading.Thread(target=_import_libraries, name="warm-imports", daemon=True).start()
    _start_spark()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        code = _run_script(request["script"], request["argv"], request.get("env") or {})
        print(f"{JOB_END_PREFIX}{code}", flush=True)
    from pyspark.sql import SparkSession  # lazy: only the worker, not its parent, starts Spark

    session = SparkSession._instantiatedSession
    if session is not None and session._sc._jsc is not None:
        session.stop()
    _end_jvm()


def _end_jvm(timeout: float = 120.0) -> None:
    """Close the JVM's standard input, its signal to exit (PySpark's gateway server exits on
    end of input), and wait for it: the worker never leaves a JVM behind it, and a JVM writing
    a class archive at exit (``medallion.local.classcache``) finishes before the worker ends."""
    from pyspark import SparkContext

    process = getattr(SparkContext._gateway, "proc", None)
    if process is None:
        return
    with contextlib.suppress(OSError, ValueError):
        process.stdin.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


if __name__ == "__main__":
    serve()
