"""What gold has consumed of silver: each silver partition's fingerprint, and what changed since.

Gold lists silver's partition directories (a listing, no rows read) and fingerprints each by its
Parquet files' names and sizes. Spark names every file it writes with the write's own UUID, so a
partition silver rewrote (dynamic overwrite) has a new fingerprint, and one it did not keeps its
own. Comparing with the fingerprints gold recorded after its last complete run gives exactly the
partitions gold has not consumed: the record is written only after every mart of the run is
published, so a run killed before that sees the same changes again and recomputes them (every
recomputation replaces what it covers, so doing it twice gives the same rows).
"""

from __future__ import annotations

import calendar
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from jobs.common.lake import LakeFiles, LakePaths

# Bumped whenever a table gold keeps or publishes changes its layout: a lake whose state has
# another version gets one full refresh, never a read of old files with new types
# (tests/gold/test_table_layouts.py fails until it is bumped). 2: product_daily and
# product_catalogue; 3: product_codes; 4: customer_summary's invoice bound a (length, text) pair.
STATE_VERSION = 4


@dataclass(frozen=True)
class Partition:
    """One silver partition directory: its path under the table, its days, its fingerprint."""

    path: str
    days: tuple[date, ...] | None  # None: not a year=/month=/day= directory (no date known)
    fingerprint: str


def partition_days(relative: str) -> tuple[date, ...] | None:
    """The days a ``year=/month=[/day=]`` partition directory covers (None if not dates)."""
    try:
        values = dict(part.split("=", 1) for part in relative.split("/") if part)
        year, month = int(values["year"]), int(values["month"])
        if "day" in values:
            return (date(year, month, int(values["day"])),)
        last = calendar.monthrange(year, month)[1]
        return tuple(date(year, month, d) for d in range(1, last + 1))
    except (KeyError, ValueError):
        return None


def list_partitions(files: LakeFiles, paths: LakePaths, dataset: str) -> dict[str, Partition]:
    """Every partition directory of a silver table holding Parquet, fingerprinted."""
    marker = f"/silver/{dataset}/"
    listed: dict[str, list[str]] = defaultdict(list)
    for info in files.list_files(paths.silver(dataset)):
        relative = info.path.split(marker, 1)[-1]
        folder, _, name = relative.rpartition("/")
        # Spark's _temporary and .spark-staging folders are not data (nor to readers).
        hidden = any(p.startswith(("_", ".")) for p in folder.split("/"))
        if hidden or not name.endswith(".parquet"):
            continue
        listed[folder].append(f"{name}:{info.size}")
    return {
        folder: Partition(
            folder,
            partition_days(folder),
            hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:16],
        )
        for folder, names in listed.items()
    }


@dataclass
class SilverChanges:
    """The partitions of each silver dataset that differ from what gold last consumed."""

    current: dict[str, dict[str, Partition]]
    changed: dict[str, list[str]] = field(default_factory=dict)

    def days(self, dataset: str) -> set[date]:
        """The business days of the changed partitions of a dataset."""
        found: set[date] = set()
        for folder in self.changed.get(dataset, []):
            partition = self.current.get(dataset, {}).get(folder)
            days = partition_days(folder) if partition is None else partition.days
            found.update(days or ())
        return found

    def undated(self) -> list[str]:
        """Datasets with a changed partition whose days are unknown (then all is recomputed)."""
        return [
            dataset
            for dataset, folders in self.changed.items()
            if any(partition_days(f) is None for f in folders)
        ]

    def dirs(self, dataset: str, days: set[date]) -> list[str]:
        """The current partition directories of a dataset holding any of ``days``."""
        partitions = self.current.get(dataset, {}).values()
        return sorted(p.path for p in partitions if p.days and not days.isdisjoint(p.days))

    def fingerprints(self) -> dict[str, dict[str, str]]:
        return {
            dataset: {p.path: p.fingerprint for p in parts.values()}
            for dataset, parts in self.current.items()
        }


def silver_changes(
    files: LakeFiles, paths: LakePaths, datasets: list[str], consumed: dict[str, dict[str, str]]
) -> SilverChanges:
    """List silver now and compare with the fingerprints gold consumed."""
    current = {d: list_partitions(files, paths, d) for d in datasets}
    changes = SilverChanges(current)
    for dataset, parts in current.items():
        before = consumed.get(dataset, {})
        now = {p.path: p.fingerprint for p in parts.values()}
        changed = {f for f in now.keys() | before.keys() if now.get(f) != before.get(f)}
        if changed:
            changes.changed[dataset] = sorted(changed)
    return changes


def trailing_days(days: set[date], span: int) -> set[date]:
    """Every day from each of ``days`` to ``span - 1`` days after it."""
    return {d + timedelta(days=k) for d in days for k in range(span)}


def leading_days(days: set[date], span: int) -> set[date]:
    """Every day from ``span - 1`` days before each of ``days`` to it."""
    return {d - timedelta(days=k) for d in days for k in range(span)}


def read_state(files: LakeFiles, paths: LakePaths) -> tuple[dict[str, Any] | None, str]:
    """Gold's record of what it consumed, or None and why there is none for the run record
    (never run, another version, or unreadable: a record cut short by a kill is as good as
    none, and a full refresh rebuilds from it)."""
    try:
        state = files.read_json(paths.gold_state())
    except (ValueError, OSError) as error:
        return None, f"gold's state is unreadable ({error})"
    if state is None:
        return None, "gold has not run on this lake"
    version = state.get("version") if isinstance(state, dict) else None
    if version != STATE_VERSION:
        return (
            None,
            f"gold's tables were written with state version {version}, today's is {STATE_VERSION}",
        )
    return state, ""


def write_state(files: LakeFiles, paths: LakePaths, state: dict[str, Any]) -> None:
    """Record what this run consumed; the last write of a run (its commit)."""
    files.write_text(paths.gold_state(), json.dumps({**state, "version": STATE_VERSION}))
