"""Helpers for the orchestration tests: a stand-in job runner, and the SMTP server on 127.0.0.1
(``smtp_support``) and a free port they use."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.message import Message
from pathlib import Path
from typing import Any

from smtp_support import SmtpServer

from medallion.local.jobrunner import (
    ERROR_PREFIX,
    REPO_ROOT,
    SUMMARY_PREFIX,
    JobResult,
    job_arguments,
)
from medallion.sample.pgserver import free_port

STANDIN = Path(__file__).with_name("standin_job.py")


def standin_runner(
    layer: str,
    options: Mapping[str, str],
    on_line: Callable[[str], None] | None = None,
    **_: Any,
) -> JobResult:
    """Run ``standin_job.py`` for a layer, reading its output the way run_job does."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(STANDIN), layer, *job_arguments(options)],
        capture_output=True,
        text=True,
        cwd=str(REPO_ROOT),
        check=False,
    )
    summary: dict[str, object] = {}
    error = ""
    for line in (done.stdout + done.stderr).splitlines():
        if on_line:
            on_line(line)
        if line.startswith(SUMMARY_PREFIX):
            summary = json.loads(line[len(SUMMARY_PREFIX) :])
        elif line.startswith(ERROR_PREFIX):
            error = line[len(ERROR_PREFIX) :]
    return JobResult(layer, done.returncode, time.monotonic() - started, error, summary)


def body_of(message: Message) -> str:
    """The text of a plain email."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


__all__ = ["SmtpServer", "body_of", "free_port", "running", "standin_runner"]


@contextmanager
def launching_standin_jobs(*_: Any, **__: Any) -> Iterator[Callable[..., JobResult]]:
    """``medallion.local.jobhost.launching_jobs`` for ``medallion run`` with stand-in jobs: no
    job host (and no JVM) is started."""
    yield standin_runner
