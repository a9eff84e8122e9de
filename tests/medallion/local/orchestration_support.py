"""Helpers for the orchestration tests: a stand-in job runner and an SMTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from medallion.local.jobrunner import (
    ERROR_PREFIX,
    REPO_ROOT,
    SUMMARY_PREFIX,
    JobResult,
    job_arguments,
)
from medallion.local.services import AlertSettings

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


@dataclass
class Inbox:
    """Messages an aiosmtpd server on 127.0.0.1 received."""

    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """aiosmtpd on 127.0.0.1; ``stop()`` in teardown."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def settings(self) -> AlertSettings:
        """Alert settings that deliver here."""
        return AlertSettings(
            host="127.0.0.1",
            port=self.port,
            sender="medallion@example.com",
            recipients=("oncall@example.com",),
        )

    def stop(self) -> None:
        self.controller.stop()


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
