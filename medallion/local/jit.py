"""How a local run's JVM compiles: C1 only for a run with little to do, tiered otherwise.

A JVM starts interpreting and compiles what runs often: C1 quickly, then C2, slowly and well, for
what stays hot. A run on little data (a daily delivery of hundreds of rows, a first run of a small
landing) runs a few hundred small Spark jobs, each with new generated code, and is over before
C2's work pays off. Measured on 2 cores (2026-12-02): the one-day delivery of
`benchmarks/incremental_benchmark.py` on 1,000,000 lines of history ran its three jobs in 53 s with
C1 only (``-XX:TieredStopAtLevel=1``) against 91 s tiered, C2's thread using about 40% of a core
throughout; a first ``medallion run`` of 20,000 generated order lines (2.2 MB of landing) took
117 s against 138 s. A run with real volume wants C2: the full refresh of the 1,000,000-line lake
(18 MB of bronze Parquet) took 261 s with C1 only against 207 s tiered.

So a local run compiles with C1 only (``quick``) when its work is at most :data:`QUICK_RUN_BYTES`:
the landing files bronze has not taken, plus, when silver and gold rebuild from all of bronze (a
full refresh, or a lake gold has not published yet), bronze's Parquet counted
:data:`PARQUET_TO_CSV` times (the CSV it came from). Otherwise tiered (``full``).
``MEDALLION_JIT=quick`` or ``full`` in the environment decides instead. On Glue, the JVM is
Glue's: this is the local runner's only.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from jobs.common.runtime import JIT_OPTIONS, JIT_SETTING

QUICK_RUN_BYTES = 8 * 2**20
"""The work a quick run has at most, in landing bytes: about 100,000 order lines of the export."""
PARQUET_TO_CSV = 5
"""Landing bytes per byte of bronze Parquet (20,000 generated lines: 2.2 MB of CSV, 0.4 MB)."""

GOLD_STATE = Path("_meta") / "gold" / "state.json"
INGESTED = Path("_meta") / "ingested"


def taken_files(lake: Path) -> set[tuple[str, int, int]]:
    """(path, size, modified ms) of every landing file bronze's manifests record."""
    taken: set[tuple[str, int, int]] = set()
    for manifest in (lake / INGESTED).glob("*/*.json"):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                taken.add((str(entry["path"]), int(entry["size"]), int(entry["modified_ms"])))
    return taken


def new_landing_bytes(lake: Path, landing: Path) -> int:
    """The bytes of files in landing's dataset folders that bronze has not taken, as bronze tells
    one file from another (its Hadoop path, size and modification time; hidden and ``_`` files
    and folders are not data, and neither is a file beside the dataset folders)."""
    taken = taken_files(lake)
    total = 0
    children = landing.iterdir() if landing.is_dir() else iter(())
    datasets = [d for d in children if d.is_dir() and not d.name.startswith((".", "_"))]
    for dataset in datasets:
        for path in data_files(dataset):
            try:
                stat = os.stat(path)
            except OSError:  # gone since it was listed, or a link to nothing: no work
                continue
            key = (f"file:{os.path.abspath(path)}", stat.st_size, stat.st_mtime_ns // 1_000_000)
            if key not in taken:
                total += stat.st_size
    return total


def job_environment(lake: Path, landing: Path, full_refresh: bool) -> dict[str, str]:
    """What a run's jobs are launched with so that their JVM compiles as :func:`jit_mode`
    chooses for the run (``MEDALLION_JIT``)."""
    return {JIT_SETTING: jit_mode(lake, landing, full_refresh)}


def jit_mode(
    lake: Path, landing: Path, full_refresh: bool, env: Mapping[str, str] = os.environ
) -> str:
    """``quick`` or ``full``, for a run of ``landing`` into ``lake`` (see the module's text).

    Raises
    ------
    ValueError
        ``MEDALLION_JIT`` is set to something else than ``quick``, ``full`` or ``auto``.
    """
    chosen = jit_setting(env)
    if chosen in JIT_OPTIONS:
        return chosen
    work = new_landing_bytes(lake, landing)
    if full_refresh or not (lake / GOLD_STATE).is_file():
        work += PARQUET_TO_CSV * data_bytes(lake / "bronze")
    return "quick" if work <= QUICK_RUN_BYTES else "full"


def jit_setting(env: Mapping[str, str] = os.environ) -> str:
    """``MEDALLION_JIT`` as given: ``quick``, ``full`` or ``auto`` (the default).

    Raises
    ------
    ValueError
        It is set to something else.
    """
    chosen = env.get(JIT_SETTING, "auto").strip().lower()
    if chosen not in (*JIT_OPTIONS, "auto"):
        raise ValueError(f"{JIT_SETTING} must be 'quick', 'full' or 'auto', not {chosen!r}")
    return chosen


def data_bytes(folder: Path) -> int:
    """The bytes of the data files under ``folder`` (one gone since it was listed has none)."""
    total = 0
    for path in data_files(folder):
        with contextlib.suppress(OSError):
            total += os.path.getsize(path)
    return total


def data_files(folder: Path) -> Iterator[str]:
    """The data files under ``folder``: hidden and ``_`` files and folders are not data."""
    for parent, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
        yield from (os.path.join(parent, n) for n in names if not n.startswith((".", "_")))
