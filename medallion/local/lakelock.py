"""One local run at a time on a lake, as Glue runs one of each job at a time.

On AWS every job of the stack allows one run at a time (``MaxConcurrentRuns=1``), so a second
execution that reaches a job still running fails there with ``ConcurrentRunsExceededException``.
Two local runs on one lake (a scheduled run overlapping one typed by hand, say) would instead run
their jobs side by side: both bronzes taking the same landing files, both silvers staging into the
same folders; one of them failed with a Spark error in bronze when tried. So a local run holds its
lake for the whole run and a second one is refused before it starts anything, naming the run that
holds it.

The hold is an advisory ``flock`` on ``<lake>/_meta/run.lock``: the kernel lets it go when the
holding process ends, however it ends, so a killed run never leaves its lake locked. The file
says who holds it (process id, run id, start time) for the refusal's message; it is not the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

RUN_LOCK = Path("_meta") / "run.lock"


class LakeBusy(Exception):
    """Another local run holds the lake."""


@contextlib.contextmanager
def lake_held(lake: Path, run_id: str = "", by: str = "") -> Iterator[None]:
    """Hold ``lake`` for one run (``run_id``) or for ``by`` (what holds it, say
    ``medallion serve``); refuse at once if another process holds it.

    Raises
    ------
    LakeBusy
        Another run holds the lake; the message names it.
    """
    path = lake / RUN_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not inherited by the job host and its JVM (Python opens files non-inheritable): the hold
    # is this process's alone and ends with it.
    with open(path, "a+", encoding="utf-8") as handle:
        _hold_or_refuse(lake, handle)
        started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        handle.seek(0)
        handle.truncate()
        named = f", {by}" if by else f", run {run_id}" if run_id else ""
        handle.write(f"process {os.getpid()}{named}, since {started}")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def refuse_if_held(lake: Path) -> None:
    """Refuse now, as :func:`lake_held` would, a lake another process holds: ``medallion run``
    looks before it starts its job host, so a refused run starts nothing. ``lake_held`` still
    decides (another run may take the lake between the look and the hold)."""
    path = lake / RUN_LOCK
    if not path.is_file():
        return
    with open(path, "a+", encoding="utf-8") as handle:
        _hold_or_refuse(lake, handle)
        fcntl.flock(handle, fcntl.LOCK_UN)


def _hold_or_refuse(lake: Path, handle: IO[str]) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        raise LakeBusy(
            f"the lake {lake} is in use by another run ({holder}); one local run at a time "
            "runs on a lake: start this one when that one has ended"
        ) from None
