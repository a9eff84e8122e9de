"""The lake watcher: real inotify on a real folder, operations as S3 requests of a principal."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from medallion.access.lakewatch import LakeWatcher
from medallion.access.mapping import LAKE_BUCKET


@pytest.fixture
def lake(tmp_path: Path) -> Iterator[tuple[Path, LakeWatcher]]:
    root = tmp_path / "lake"
    (root / "silver" / "order_lines").mkdir(parents=True)
    watcher = LakeWatcher(root)
    try:
        yield root, watcher
    finally:
        watcher.close()


def requests(watcher: LakeWatcher, principal: str) -> set[tuple[str, str]]:
    return {(a.action, a.resource) for a in watcher.accesses if a.principal == principal}


def test_reads_and_writes_go_to_the_principal_acting(lake: tuple[Path, LakeWatcher]) -> None:
    root, watcher = lake
    table = root / "silver" / "order_lines"
    with watcher.acting("SilverJobRole"):
        (table / "part-0.parquet").write_bytes(b"x")
    (table / "unattributed.parquet").write_bytes(b"y")  # outside any acting block: dropped
    with watcher.acting("GoldJobRole"):
        (table / "part-0.parquet").read_bytes()

    key = f"{LAKE_BUCKET}/silver/order_lines/part-0.parquet"
    assert ("s3:PutObject", key) in requests(watcher, "SilverJobRole")
    assert ("s3:GetObject", key) in requests(watcher, "GoldJobRole")
    assert ("s3:PutObject", key) not in requests(watcher, "GoldJobRole")
    assert not any("unattributed" in a.resource for a in watcher.accesses)


def test_a_renamed_staging_partition_is_read_at_its_new_path(
    lake: tuple[Path, LakeWatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spark's dynamic overwrite: a staged partition renamed into a folder made just before.

    The rename lands right after the watcher lists the new folder, before anything else: the
    window a folder listed before it is watched leaves open. The next principal's read of the
    moved file must be of its final key, not of the staging key it was written under.
    """
    root, watcher = lake
    table = root / "silver" / "order_lines"
    staged = table / ".spark-staging-1" / "year=2011" / "month=3" / "day=28"
    with watcher.acting("SilverJobRole"):
        staged.mkdir(parents=True)
        (staged / "part-0.parquet").write_bytes(b"x")
        watcher.flush()  # the staging folders are watched, as they are when Spark writes
        final_month = table / "year=2011" / "month=3"

        real_scandir = os.scandir

        def scandir_then_rename(path: object) -> object:
            listing = list(real_scandir(path))  # type: ignore[call-overload]
            if Path(str(path)) == final_month and staged.exists():
                staged.rename(final_month / "day=28")
            return iter(listing)

        # Held, the watcher's lock keeps its own thread from handling the mkdir's events first.
        with watcher._lock:
            final_month.mkdir(parents=True)
            monkeypatch.setattr(os, "scandir", scandir_then_rename)
            watcher.flush()
            monkeypatch.undo()
        assert not staged.exists()  # the rename happened inside the watcher's listing
    with watcher.acting("GoldJobRole"):
        (final_month / "day=28" / "part-0.parquet").read_bytes()

    gold = requests(watcher, "GoldJobRole")
    final = f"{LAKE_BUCKET}/silver/order_lines/year=2011/month=3/day=28/part-0.parquet"
    assert ("s3:GetObject", final) in gold
    assert not any(".spark-staging" in resource for _, resource in gold), gold
