"""Runs a layer's Glue entry script as a local process, the way a Glue job run would."""

from __future__ import annotations

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
    import json

    command = [sys.executable, str(entry_script(layer)), *job_arguments(options)]
    process_env = {**os.environ, **(env or {})}
    process_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), process_env.get("PYTHONPATH", "")) if p
    )
    started = time.monotonic()
    summary: dict[str, object] = {}
    error = ""
    tail: list[str] = []
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=process_env,
        cwd=str(REPO_ROOT),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            if line.startswith(SUMMARY_PREFIX):
                summary = json.loads(line[len(SUMMARY_PREFIX) :])
                continue
            if line.startswith(ERROR_PREFIX):
                error = line[len(ERROR_PREFIX) :]
            tail = [*tail, line][-20:]
            if on_line:
                on_line(line)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
            error = error or f"timed out after {timeout:.0f} s"
    if code != 0 and not error:
        error = next((t for t in reversed(tail) if t.strip()), f"exit status {code}")
    return JobResult(layer, code, time.monotonic() - started, error, summary)
