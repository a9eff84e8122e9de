"""Local job processes end with the command that started them, however it ends.

A command killed by SIGKILL (or by the kernel's out-of-memory killer) closes nothing: a job
process or job host it started, each in a session of its own, would run its job to the end,
writing to a lake that the command's next run may take (the lake's hold ends with the command).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time


def end_with_parent(parent: int, every: float = 0.5) -> None:
    """End this process's group (this process and its JVM; Spark's Python workers, in groups of
    their own, end with the JVM) as soon as ``parent``, the process that started it, is gone.
    Checked twice a second."""
    while os.getppid() == parent:
        time.sleep(every)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def watch_parent() -> None:
    """Start :func:`end_with_parent` in a daemon thread, from before Spark starts; only in a
    process that leads its own group (started in a session of its own), so a group it shares
    with another launcher (a shell, a test) is never ended with it."""
    if os.getpgrp() != os.getpid():
        return
    threading.Thread(
        target=end_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True
    ).start()


def kill_group(pid: int) -> None:
    """End the group ``pid`` leads (a job and its JVM) at once; nothing if it has ended."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
