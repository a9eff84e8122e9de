"""Work gold runs beside itself (its row counts): done in order, off the caller's thread, and
waited for, errors included, before the run publishes."""

from __future__ import annotations

import threading
import time

import pytest

from jobs.gold.publish import Beside


def test_work_runs_off_the_callers_thread_in_order_and_settle_waits_for_it() -> None:
    beside = Beside("test-beside")
    done: list[tuple[int, str]] = []
    gate = threading.Event()

    def slow(n: int) -> None:
        gate.wait(10)
        done.append((n, threading.current_thread().name))

    started = time.monotonic()
    for n in range(3):
        beside.submit(slow, n)
    assert time.monotonic() - started < 1 and done == []  # the caller did not wait
    gate.set()
    beside.settle()

    assert [n for n, _ in done] == [0, 1, 2]
    assert all(name.startswith("test-beside") for _, name in done)


def test_settle_raises_what_the_work_raised() -> None:
    beside = Beside("test-beside")

    def broken() -> None:
        raise OSError("the footer could not be read")

    beside.submit(broken)
    with pytest.raises(OSError, match="the footer could not be read"):
        beside.settle()
