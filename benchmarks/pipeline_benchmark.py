"""Benchmark: generate N order lines, run bronze, silver and gold locally, print time and memory.

Usage: .venv/bin/python benchmarks/pipeline_benchmark.py [--order-lines 1000000] [--workdir DIR]

Peak memory is the largest resident set of the whole process tree (the job's Python process and
its JVM), sampled every 100 ms from /proc: a Python-only figure would miss the JVM.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

from medallion.local.jobhost import JobHostRunner, warm_hosts_enabled
from medallion.local.jobrunner import run_job
from medallion.sample.generate import generate

PAGE = os.sysconf("SC_PAGE_SIZE")


# Fields of /proc/<pid>/stat after the command's closing parenthesis (field 3, the state, is 0):
# startcode, endcode and startstack, read from the process's address space and fixed from the
# moment it runs its program. Not vsize: a JVM maps memory all the time (a new thread's stack),
# and when that happened between the reads of the JVM and of its child in posix_spawn, the two
# sizes differed and the JVM was counted twice again (a 1,000,000-line full refresh peaked at
# 3.97 GiB in one sample; 2.19 GiB in the next run of it).
_LAYOUT = (23, 24, 25)


@dataclass(frozen=True)
class Proc:
    """What /proc says of one process: its parent, command name, address-space layout, RSS."""

    parent: int
    command: str
    layout: tuple[str, ...]
    rss: int


def processes() -> dict[int, Proc]:
    """Every process /proc lists now (one gone while read is left out)."""
    table: dict[int, Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, tail = (entry / "stat").read_text().rpartition(")")
            statm = (entry / "statm").read_text().split()
        except OSError:
            continue
        stat = tail.split()
        layout = tuple(stat[i] for i in _LAYOUT)
        table[int(entry.name)] = Proc(
            int(stat[1]), head.partition("(")[2], layout, int(statm[1]) * PAGE
        )
    return table


def tree_bytes(table: dict[int, Proc], root_pid: int) -> int:
    """Resident bytes of ``root_pid`` and its descendants in ``table``, each address space once.

    A JVM starts every subprocess (Hadoop's shell commands: a chmod for each file the local
    file system writes) with posix_spawn, whose child shares the JVM's address space until it
    runs the new program. Read in that moment, the child reports the whole JVM's resident set
    as its own, under the JVM's own command name and layout (proc(5): they come from the
    address space), and a sum over the tree counted the JVM twice: a 2 GiB JVM showed up as
    4 GiB. A child of a ``java`` process whose layout is its parent's is that moment, and counts
    nothing: a JVM never forks without running a new program.
    """
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.parent, []).append(pid)
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        if pid not in table:
            continue
        proc, up = table[pid], table.get(table[pid].parent)
        if not (up is not None and up.command == "java" and up.layout == proc.layout):
            total += proc.rss
    return total


def tree_rss(root_pid: int) -> int:
    """Resident bytes of a process and all its descendants now (:func:`tree_bytes`)."""
    return tree_bytes(processes(), root_pid)


class PeakMemory:
    """Samples this process tree's RSS in a thread: the overall peak, and the peak since a mark."""

    def __init__(self) -> None:
        self.peak = 0
        self.stage_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss(os.getpid())
            self.peak = max(self.peak, rss)
            self.stage_peak = max(self.stage_peak, rss)
            time.sleep(0.1)

    def mark(self) -> None:
        """Start a new stage's peak."""
        self.stage_peak = 0

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_stages(
    lake: Path, landing: Path, rows_in: int, memory: PeakMemory
) -> list[tuple[str, float, int]]:
    """Bronze, silver and gold, the way ``medallion run`` runs them (a warm job host unless
    MEDALLION_JOB_HOST=process); the per-stage time is each job's, from request to exit."""
    runner = JobHostRunner() if warm_hosts_enabled() else nullcontext(run_job)
    figures = []
    with runner as run:
        for layer in ("bronze", "silver", "gold"):
            options = {"lake_root": str(lake), "run_id": "bench"}
            if layer == "bronze":
                options["landing_root"] = str(landing)
            memory.mark()
            result = run(layer, options)
            if result.state != "SUCCEEDED":
                raise SystemExit(f"{layer} failed: {result.error_message}")
            figures.append((layer, result.seconds, memory.stage_peak))
            print(
                f"{layer:>6}: {result.seconds:6.1f} s  {rows_in / result.seconds:>10,.0f} rows/s  "
                f"peak {memory.stage_peak / 2**30:.2f} GiB",
                flush=True,
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the lake afterwards")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="medallion-bench-"))
    shutil.rmtree(workdir, ignore_errors=True)
    landing, lake = workdir / "landing", workdir / "lake"

    started = time.monotonic()
    manifest = generate(landing, args.order_lines, args.seed)
    generate_s = time.monotonic() - started
    rows_in = sum(f.lines for f in manifest.files.values())
    print(
        f"generate: {args.order_lines:,} order lines ({rows_in:,} rows in all) "
        f"in {generate_s:.1f} s"
    )

    started = time.monotonic()
    with PeakMemory() as memory:
        figures = run_stages(lake, landing, rows_in, memory)
    total = time.monotonic() - started
    print(
        f" total: {total:6.1f} s  {rows_in / total:>10,.0f} rows/s  "
        f"peak {memory.peak / 2**30:.2f} GiB, end to end with start-up and shut-down "
        f"(target: < 90 s and < 6 GiB for 1,000,000 order lines on 2 cores)"
    )
    record = {
        "order_lines": args.order_lines,
        "rows_in": rows_in,
        "job_host": "warm" if warm_hosts_enabled() else "process",
        "seconds": {layer: round(s, 1) for layer, s, _ in figures},
        "total_seconds": round(total, 1),
        "peak_gib": round(memory.peak / 2**30, 2),
    }
    print(json.dumps(record))
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
