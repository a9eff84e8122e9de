"""How a local run's JVM compiles: C1 only for a small delivery on a lake that has run before.

A JVM starts interpreting and compiles what runs often: C1 quickly, then C2, slowly and well, for
what stays hot. A daily delivery (hundreds of rows) runs a few hundred small Spark jobs, each
with new generated code, and is over before C2's work pays off: measured on 2 cores
(`benchmarks/incremental_benchmark.py`'s one-day delivery on 1,000,000 lines of history,
2026-12-02), C2's thread used about 40% of a core throughout, and the three jobs took 53 s with
C1 only (``-XX:TieredStopAtLevel=1``) against 91 s tiered. A run with real volume wants C2: the
full refresh of the same lake took 261 s with C1 only against 207 s tiered.

So a local run compiles with C1 only (``quick``) when it is a small delivery: not a full refresh,
on a lake gold has published before (its database extracts are incremental then), with at most
:data:`QUICK_RUN_BYTES` of landing files bronze has not taken. Otherwise tiered (``full``).
``MEDALLION_JIT=quick`` or ``full`` in the environment decides instead. On Glue, the JVM is
Glue's: this is the local runner's only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from jobs.common.runtime import JIT_OPTIONS, JIT_SETTING

QUICK_RUN_BYTES = 8 * 2**20
"""New landing bytes a quick run takes at most: about 100,000 order lines of the CSV export."""

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
        for folder, dirs, names in os.walk(dataset):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            for name in (n for n in names if not n.startswith((".", "_"))):
                path = Path(os.path.abspath(os.path.join(folder, name)))
                stat = path.stat()
                key = (f"file:{path}", stat.st_size, stat.st_mtime_ns // 1_000_000)
                if key not in taken:
                    total += stat.st_size
    return total


def jit_mode(
    lake: Path, landing: Path, full_refresh: bool, env: Mapping[str, str] = os.environ
) -> str:
    """``quick`` or ``full``, for a run of ``landing`` into ``lake`` (see the module's text).

    Raises
    ------
    ValueError
        ``MEDALLION_JIT`` is set to something else than ``quick``, ``full`` or ``auto``.
    """
    chosen = env.get(JIT_SETTING, "auto").strip().lower()
    if chosen in JIT_OPTIONS:
        return chosen
    if chosen != "auto":
        raise ValueError(f"{JIT_SETTING} must be 'quick', 'full' or 'auto', not {chosen!r}")
    if full_refresh or not (lake / GOLD_STATE).is_file():
        return "full"
    return "quick" if new_landing_bytes(lake, landing) <= QUICK_RUN_BYTES else "full"
