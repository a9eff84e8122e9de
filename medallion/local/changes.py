"""Wakes a local run's waiters when something they wait for may have happened.

A local run waits in two places: the state machine's ``.sync`` Tasks look at their job run or
query until it ends, and ``medallion run`` looks at the execution until it ends. Both used to
look on a clock (every quarter of a second at most), each look a boto3 call through moto's
request and response handling: a few hundred calls a run, seconds of CPU taken from the jobs on
two cores, and up to a quarter of a second late at every job's end.

:data:`CHANGES` counts the events that can end a wait: a local work (a job run, a crawl, a
query) ending, a history event being added, an execution ending. A waiter reads the count,
looks, and if what it waits for has not happened waits until the count moves past what it read
(or its timeout, for anything nothing signals). Reading the count before the look closes the
race: an end between the look and the wait has already moved the count, so the wait returns at
once.
"""

from __future__ import annotations

import threading
from typing import Final


class Changes:
    """A counter of changes that waiters can block on."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._count = 0

    def count(self) -> int:
        """How many changes there have been; hand it to :meth:`wait_past`."""
        with self._condition:
            return self._count

    def changed(self) -> None:
        """Record a change and wake every waiter."""
        with self._condition:
            self._count += 1
            self._condition.notify_all()

    def wait_past(self, seen: int, timeout: float) -> bool:
        """Block until the count is past ``seen`` or ``timeout`` seconds passed; whether it is."""
        with self._condition:
            return self._condition.wait_for(lambda: self._count != seen, timeout)


CHANGES: Final = Changes()
"""The process's one counter: every local run and its services signal and wait on it (a wait
woken by another run's change looks once more and waits again)."""
