"""medallion dashboard as a process: stopping it with SIGTERM stops the Streamlit server too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from medallion.sample.pgserver import free_port

MEDALLION = Path(sys.executable).with_name("medallion")


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def children(pid: int) -> list[int]:
    """The process ids of a process's children (Linux /proc)."""
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in found.read_text().split()] if found.exists() else []


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return bool(condition())


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads children from /proc")
def test_sigterm_stops_the_streamlit_child_and_frees_the_port(tmp_path: Path) -> None:
    port = free_port()
    cli = subprocess.Popen(
        [str(MEDALLION), "dashboard", "--lake", str(tmp_path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(lambda: answers(port), 60), "the dashboard never answered on its port"
        server = children(cli.pid)
        assert server, "no Streamlit child"
        os.kill(cli.pid, signal.SIGTERM)
        cli.wait(timeout=30)
        assert wait_for(lambda: not answers(port), 10), "the port still answers"
        assert wait_for(lambda: not any(alive(pid) for pid in server), 10), "the child lives on"
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
