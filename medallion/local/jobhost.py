"""Runs the layers' Glue entry scripts one after another in a warm Python process and JVM.

A local run of the pipeline starts three Glue jobs. Started as three processes, each pays for a
Python interpreter, a JVM and a cold JIT before its first row (about a fifth of a 1M-row run on
two cores). A job host is one worker process, started when the run starts, that keeps its
SparkContext: each job script still runs as ``__main__`` with its own ``sys.argv``, environment
and a new SparkSession (its own SQL settings and temporary views), the way Glue starts it, but the
JVM is already there and warm. A job that fails or times out retires its host, so a broken JVM
never runs the next job.

Each job is launched as :func:`medallion.local.jobrunner.run_job` launches one, as Glue does: a
copy of the entry script, the same arguments, ``jobs`` importable only from the run's
``jobs.zip``. The host itself needs ``medallion``; while a job runs, ``jobs``, ``medallion`` and
``infra`` are out of ``sys.modules`` and importable from jobs.zip alone
(:func:`medallion.local.jobrunner.glue_interpreter`).

``JobHostRunner`` has :func:`medallion.local.jobrunner.run_job`'s signature, so the local
services take either; set ``MEDALLION_JOB_HOST=process`` to run every job in a process of its own.

The worker is :mod:`medallion.local.jobworker`, run as ``python -m medallion.local.jobworker``: it
starts Spark before anything else, reads one JSON request a line on stdin and ends each job's
output with ``MEDALLION_JOB_END <exit status>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType

from medallion.local import jit
from medallion.local.jobrunner import (
    LAYERS,
    JobOutput,
    JobResult,
    LocalGlue,
    ProcessJobRunner,
    argv_of,
    build_scripts_bucket,
    glue_arguments,
    job_environment,
    local_glue,
    script_copy,
)
from medallion.local.jobworker import JOB_END_PREFIX
from medallion.local.parentwatch import kill_group

HOST_SETTING = "MEDALLION_JOB_HOST"


def warm_hosts_enabled() -> bool:
    """Jobs share a warm host unless ``MEDALLION_JOB_HOST=process`` asks for one process each."""
    value = os.environ.get(HOST_SETTING, "warm").strip().lower()
    if value not in ("warm", "process"):
        raise ValueError(f"{HOST_SETTING} must be 'warm' or 'process', not {value!r}")
    return value == "warm"


class JobHost:
    """One worker process that runs job scripts sent to it, one at a time.

    Parameters
    ----------
    env
        Environment overrides for the worker; they reach the JVM too, so settings read when
        Spark starts (``MEDALLION_DRIVER_MEMORY``, ``MEDALLION_JAVA_OPTIONS``) belong here.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        # Its working directory is its own, not the repository (whose root `-m` would put on
        # sys.path); a session of its own: a terminal's Ctrl-C reaches the CLI, which then
        # closes the host.
        self.workdir = Path(tempfile.mkdtemp(prefix="medallion-jobhost-"))
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "medallion.local.jobworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=job_environment(env),
            cwd=str(self.workdir),
            start_new_session=True,
        )
        self.jobs_run = 0

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def run(
        self,
        script: Path,
        args: list[str],
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, JobOutput, str]:
        """Run a script (a copy of an entry script) as ``__main__`` in the worker and wait.

        Returns
        -------
        tuple
            The exit status (negative when the worker died), the job's output, and why the
            host ended the job itself (a timeout, a dead worker), else empty.
        """
        assert self.process.stdin is not None and self.process.stdout is not None
        output = JobOutput(on_line)
        request = {"script": str(script), "argv": args, "env": dict(env or {})}
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            return self._ended(output, "")
        self.jobs_run += 1
        timer = threading.Timer(timeout, self.kill) if timeout else None
        if timer:
            timer.start()
        try:
            for line in self.process.stdout:
                if line.startswith(JOB_END_PREFIX):
                    return int(line[len(JOB_END_PREFIX) :]), output, ""
                output.add(line)
        finally:
            if timer:
                timer.cancel()
        return self._ended(output, f"timed out after {timeout:.0f} s" if timer else "")

    def _ended(self, output: JobOutput, why: str) -> tuple[int, JobOutput, str]:
        code = self.process.wait()
        return (code or -1), output, why or f"the job host exited with status {code}"

    def kill(self) -> None:
        """Stop the worker and its JVM at once."""
        kill_group(self.process.pid)

    def close(self, grace_seconds: float = 20.0) -> None:
        """Let the worker stop Spark and exit; end it by signal if it has not in time."""
        if self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        # Read what the worker and its JVM still write while they stop: a full pipe would block
        # them, and the wait below would end only by signal.
        drain = threading.Thread(target=self._drain, daemon=True)
        drain.start()
        for sig, wait in ((None, grace_seconds), (signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        drain.join(timeout=5.0)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _drain(self) -> None:
        if self.process.stdout is None:
            return
        with contextlib.suppress(OSError, ValueError):
            for _ in self.process.stdout:
                pass
            self.process.stdout.close()


class JobHostRunner:
    """Runs layers' jobs (``run_job``'s signature) in warm job hosts, one host per job at a time.

    A host is started at once, so its JVM starts while the caller sets up. A job that fails
    retires its host; the next job gets a new one.

    Parameters
    ----------
    env
        Environment overrides for the hosts' processes.
    glue
        The run's local scripts bucket and lake; None builds a scripts bucket for this runner,
        removed when it closes.
    close_seconds
        How long an idle host may take to stop Spark and its JVM when the runner closes,
        before it is ended by signal.
    last_layer
        The layer whose job is the run's last: once it succeeds its host is retired at once,
        so the JVM stops while the run goes on (crawls and views) rather than after it. A
        later job, a retry say, gets a new host.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        glue: LocalGlue | None = None,
        close_seconds: float = 20.0,
        last_layer: str | None = None,
    ) -> None:
        self._env = dict(env or {})
        self._close_seconds = close_seconds
        self._last_layer = last_layer
        self._lock = threading.Lock()
        # The host first, so its JVM starts while the scripts bucket is built.
        self._idle: list[JobHost] = [JobHost(self._env)]
        self._busy: set[JobHost] = set()
        self._retiring: list[threading.Thread] = []
        self._closed = False
        self._glue_context = local_glue(glue)
        try:
            self.glue = self._glue_context.__enter__()
        except BaseException:
            self.close_hosts()
            raise

    def __call__(
        self,
        layer: str,
        options: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        timeout: float | None = None,
        *,
        job_run_id: str | None = None,
        job_name: str | None = None,
        script: Path | None = None,
    ) -> JobResult:
        """Run a layer's job; the parameters are :func:`medallion.local.jobrunner.run_job`'s."""
        arguments = glue_arguments(
            layer, options, self.glue, job_run_id=job_run_id, job_name=job_name
        )
        host = self._acquire()
        started = time.monotonic()
        code, output, why = 1, JobOutput(on_line), ""
        try:
            with script_copy(script or self.glue.scripts.script(layer)) as copy:
                code, output, why = host.run(copy, argv_of(arguments), env, on_line, timeout)
        finally:
            # A failed job may have left its JVM broken: the next job gets a new host.
            last = layer == self._last_layer
            self._release(host, keep=code == 0 and host.alive and not last)
        return output.result(layer, code, time.monotonic() - started, why)

    def _acquire(self) -> JobHost:
        with self._lock:
            if self._closed:
                raise RuntimeError("the job host runner is closed")
            while self._idle:
                host = self._idle.pop(0)
                if host.alive:
                    break
                host.close()
            else:
                host = JobHost(self._env)
            self._busy.add(host)
            return host

    def _release(self, host: JobHost, keep: bool) -> None:
        with self._lock:
            self._busy.discard(host)
            if keep and not self._closed:
                self._idle.append(host)
                return
            # Stopped beside the run, not in its way; the runner's close waits for it.
            retiring = threading.Thread(
                target=host.close, args=(self._close_seconds,), name="medallion-host-close"
            )
            self._retiring.append(retiring)
            retiring.start()

    def close(self) -> None:
        """Stop every host (a job still running is killed) and remove the scripts bucket built."""
        self.close_hosts()
        self._glue_context.__exit__(None, None, None)

    def close_hosts(self) -> None:
        """Stop every host; a job still running is killed."""
        with self._lock:
            self._closed = True
            idle, busy = list(self._idle), list(self._busy)
            self._idle.clear()
        for host in busy:
            host.kill()
        for host in idle:
            # A host that ran no job has nothing to finish: a run refused before its first job
            # (its lake in use, say) ends at once, not when a JVM still booting has stopped.
            host.close(self._close_seconds if host.jobs_run else 0.0)
        for retiring in self._retiring:
            retiring.join()

    def __enter__(self) -> JobHostRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextlib.contextmanager
def launching_jobs(
    lake: Path, landing: Path, full_refresh: bool = False
) -> Iterator[JobHostRunner | ProcessJobRunner]:
    """A local run's job runner: a warm job host, started now, or a process each with
    ``MEDALLION_JOB_HOST=process``; either's JVM compiles as :func:`medallion.local.jit.jit_mode`
    chooses for a run of ``landing`` into ``lake`` (resolved paths).

    The run's scripts bucket (what deploy uploads, jobs.zip included) is built once and removed
    with the runner. This module imports none of moto, boto3 or troposphere, so ``medallion
    run`` enters this first: the host's JVM boots while the rest of the run is imported and set up.
    """
    env = jit.job_environment(lake, landing, full_refresh)
    if warm_hosts_enabled():
        # It builds the scripts bucket once its host starts; gold's host stops as gold ends.
        with JobHostRunner(env, last_layer=LAYERS[-1]) as runner:
            yield runner
    else:
        with tempfile.TemporaryDirectory(prefix="medallion-scripts-") as folder:
            yield ProcessJobRunner(LocalGlue(build_scripts_bucket(Path(folder))), env)
