"""``MEDALLION_JOB_HOST=process``: a job process, in a session of its own, ends with the command
that started it, even when the command is killed by SIGKILL."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from orchestration_support import running

from medallion.local.jobrunner import REPO_ROOT

# The command: runs one job as medallion run does in process mode (run_job), a script that
# stands in for the layer's entry script.
COMMAND = """
import sys
from pathlib import Path
from medallion.local.jobrunner import run_job

run_job("bronze", {"lake_root": sys.argv[2]}, script=Path(sys.argv[1]))
"""


@pytest.mark.timeout(300)
def test_a_job_whose_command_was_killed_ends_with_it(tmp_path: Path) -> None:
    started = tmp_path / "started"
    job = tmp_path / "long_job.py"
    job.write_text(
        "import os, pathlib, time\n"
        f"pathlib.Path({str(started)!r}).write_text(str(os.getpid()))\n"
        "time.sleep(300)\n"
    )
    command = subprocess.Popen(
        [sys.executable, "-c", COMMAND, str(job), str(tmp_path / "lake")], cwd=REPO_ROOT
    )
    pid = 0
    try:
        deadline = time.monotonic() + 120
        while not started.exists() or not started.read_text():
            assert command.poll() is None, "the command ended before its job started"
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.2)
        pid = int(started.read_text())
        assert running(pid)
        # Its own group: ending it never takes the command's group (a terminal's) with it.
        assert os.getpgid(pid) == pid != os.getpgid(command.pid)
        command.kill()
        command.wait(timeout=30)
        deadline = time.monotonic() + 30
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not running(pid), "the job outlived the command that was killed"
    finally:
        command.kill()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


WATCHING = (
    "import threading\n"
    "from medallion.local.parentwatch import watch_parent\n"
    "watch_parent()\n"
    "print('parent-watch' in [t.name for t in threading.enumerate()])\n"
)


@pytest.mark.parametrize("own_session", [True, False])
def test_only_a_group_leader_watches_its_parent(own_session: bool) -> None:
    """A process sharing its launcher's group (a shell's, a test's) never ends that group."""
    done = subprocess.run(
        [sys.executable, "-c", WATCHING], cwd=REPO_ROOT, capture_output=True, text=True,
        start_new_session=own_session, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == str(own_session)
