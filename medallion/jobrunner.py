"""Runs a layer's Glue entry script as a local process, the way a Glue job run would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jobs.common.entry import ERROR_PREFIX, SUMMARY_PREFIX

REPO_ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("bronze", "silver", "gold")


def entry_script(layer: str) -> Path:
    """The Glue entry script of a layer: the file uploaded as the job's ScriptLocation."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
    return REPO_ROOT / "jobs" / layer / "job.py"


@dataclass(frozen=True)
class JobResult:
    """How a local job run ended: SUCCEEDED or FAILED from its exit status."""

    layer: str
    exit_code: int
    seconds: float
    error_message: str
    summary: dict[str, object]

    @property
    def state(self) -> str:
        return "SUCCEEDED" if self.exit_code == 0 else "FAILED"


def job_arguments(options: Mapping[str, str]) -> list[str]:
    """``{"lake_root": x}`` -> ``["--lake_root", x]``, the way Glue passes job arguments."""
    args: list[str] = []
    for key, value in options.items():
        args += [f"--{key.lstrip('-')}", str(value)]
    return args


class JobOutput:
    """Reads a job's output lines: its summary, its error line, and the last lines for context."""

    def __init__(self, on_line: Callable[[str], None] | None = None) -> None:
        self.summary: dict[str, object] = {}
        self.error = ""
        self.tail: list[str] = []
        self._on_line = on_line

    def add(self, line: str) -> None:
        line = line.rstrip("\n")
        if line.startswith(SUMMARY_PREFIX):
            self.summary = json.loads(line[len(SUMMARY_PREFIX) :])
            return
        if line.startswith(ERROR_PREFIX):
            self.error = line[len(ERROR_PREFIX) :]
        self.tail = [*self.tail, line][-20:]
        if self._on_line:
            self._on_line(line)

    def result(self, layer: str, code: int, seconds: float, error: str = "") -> JobResult:
        """The run's result; a failure without an error line is explained by its last line."""
        message = self.error or error
        if code != 0 and not message:
            message = next((t for t in reversed(self.tail) if t.strip()), f"exit status {code}")
        return JobResult(layer, code, seconds, message, self.summary)


def job_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, the overrides, and the repository on PYTHONPATH."""
    process_env = {**os.environ, **(env or {})}
    process_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), process_env.get("PYTHONPATH", "")) if p
    )
    return process_env


def run_job(
    layer: str,
    options: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
) -> JobResult:
    """Run one layer's job script in a fresh Python process and wait for it.

    The job prints one ``MEDALLION_SUMMARY {json}`` line on success and one
    ``MEDALLION_ERROR message`` line on failure; both are picked up here.
    """
    command = [sys.executable, str(entry_script(layer)), *job_arguments(options)]
    started = time.monotonic()
    output = JobOutput(on_line)
    timed_out = ""
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=job_environment(env),
        cwd=str(REPO_ROOT),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.add(line)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
            timed_out = f"timed out after {timeout:.0f} s"
    return output.result(layer, code, time.monotonic() - started, timed_out)
