"""One local run at a time on a lake: `medallion run` refuses a lake another run holds, before it
starts anything, and a holder that was killed leaves the lake free."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from medallion.local.lakelock import RUN_LOCK, lake_held

HOLD = """
import sys
from pathlib import Path
from medallion.local.lakelock import lake_held
with lake_held(Path(sys.argv[1]), "run-holding"):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def held_elsewhere(lake: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lake as a run does, until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lake)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=30)


def test_medallion_run_refuses_a_lake_another_run_holds(tmp_path: Path) -> None:
    lake, landing = tmp_path / "lake", tmp_path / "landing"
    (landing / "order_lines").mkdir(parents=True)
    (landing / "order_lines" / "orders.csv").write_text("InvoiceNo,StockCode\n536365,85123A\n")
    medallion = Path(sys.executable).with_name("medallion")
    # A Java that only leaves a mark: a job host starting Spark would run it.
    java_home = tmp_path / "java"
    (java_home / "bin").mkdir(parents=True)
    (java_home / "bin" / "java").write_text(f"#!/bin/sh\ntouch {tmp_path / 'java-ran'}\nexit 1\n")
    (java_home / "bin" / "java").chmod(0o755)
    with held_elsewhere(lake) as holder:
        done = subprocess.run(
            [str(medallion), "run", "--lake", str(lake), "--landing", str(landing)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env={**os.environ, "JAVA_HOME": str(java_home)},
        )
        assert done.returncode == 1, done.stdout + done.stderr
        error = " ".join(done.stderr.split())
        assert f"is in use by another run (process {holder.pid}, run run-holding" in error
        assert "Traceback" not in done.stderr
        # Refused before anything started: no JVM, no job, nothing written beside the lock.
        assert not (tmp_path / "java-ran").exists()
        assert sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*")) == [
            "_meta",
            RUN_LOCK.as_posix(),
        ]
    # Its holder ended: the lake is free again, for this process too.
    with lake_held(lake, "run-next"):
        assert "run run-next" in (lake / RUN_LOCK).read_text(encoding="utf-8")
    assert (lake / RUN_LOCK).read_text(encoding="utf-8") == ""


def test_a_killed_run_leaves_its_lake_free(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    with held_elsewhere(lake) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        with lake_held(lake, "after-the-kill"):
            pass
