"""The throwaway PostgreSQL server does not outlive its owner, however the owner ends."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medallion.sample.pgserver import LocalPostgres, postgres_bin

OWNER = """
import json, sys, time
from medallion.sample.pgserver import LocalPostgres
server = LocalPostgres().start()
print(json.dumps({"root": str(server.root), "port": server.port}), flush=True)
time.sleep(600)
"""


def accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def gone_within(seconds: float, root: Path, port: int) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not root.exists() and not accepts(port):
            return True
        time.sleep(0.5)
    return False


def test_a_server_whose_owner_is_killed_is_stopped_and_removed() -> None:
    """SIGKILL gives the owner no chance to stop its server (a killed test worker): the
    watcher started with it sees its pipe close, stops the server and removes its directory."""
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is needed: run scripts/setup.sh")
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert owner.stdout is not None
        started = json.loads(owner.stdout.readline())
        root, port = Path(started["root"]), int(started["port"])
        assert root.is_dir() and accepts(port)
        os.killpg(owner.pid, signal.SIGKILL)  # the owner and anything in its group
        owner.wait(timeout=30)
        assert gone_within(60, root, port), f"{root} or port {port} still there"
    finally:
        if owner.poll() is None:
            os.killpg(owner.pid, signal.SIGKILL)


def test_a_server_stopped_by_its_owner_leaves_no_watcher() -> None:
    if postgres_bin() is None:
        pytest.fail("PostgreSQL is needed: run scripts/setup.sh")
    server = LocalPostgres().start()
    watcher = server._watcher
    assert watcher is not None and watcher.poll() is None
    server.stop()
    assert watcher.poll() is not None
    assert not server.root.exists() and not accepts(server.port)
