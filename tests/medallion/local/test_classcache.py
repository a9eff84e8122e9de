"""The class archive's clean-up: partial archives of killed builds go, a running build's stays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from medallion.local.classcache import remove_stale


def test_a_killed_builds_partial_archive_is_removed_and_a_running_ones_kept(tmp_path: Path) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    archive = tmp_path / "spark-classes-0123456789abcdef.jsa"
    archive.write_bytes(b"whole")
    killed = tmp_path / f".{archive.name}.{ended.pid}.tmp"
    running = tmp_path / f".{archive.name}.{os.getpid()}.tmp"
    nameless = tmp_path / f".{archive.name}.notapid.tmp"
    for partial in (killed, running, nameless):
        partial.write_bytes(b"half")

    assert sorted(remove_stale(tmp_path)) == sorted([killed, nameless])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([archive.name, running.name])
