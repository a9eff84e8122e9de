"""Runs killed inside silver and gold, then run again, end where an uninterrupted run ends.

A delivery (new days, late lines for old days, products re-sent) lands on a lake that gold has
already consumed. The uninterrupted run takes it through bronze, silver and gold. Each fault
starts the real silver or gold job as its own process group and kills the group with SIGKILL at
a point of its work: silver while it checks the batch and while it rewrites partitions; gold
while it stages the new mart versions, and once they are staged and it starts publishing them,
before it records what it consumed. Then the job and the layers after it run again under the
same run id, and silver's rows and every gold table (its state included) must equal the
uninterrupted run's.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from gold_support import Deliveries, Source, assert_same_tables, gold_tables, run_layers

from jobs.common.runtime import JIT_SETTING
from medallion.local import catalog
from medallion.local.jobrunner import REPO_ROOT, JobResult, entry_script, job_arguments

pytestmark = pytest.mark.slow

ORDER_LINES = 300
SEED = 31
SILVER = ("order_lines", "products")


def silver_rows(lake: Path) -> dict[str, pd.DataFrame]:
    """Silver's rows of the datasets the delivery changes, without the silver run's timestamp."""
    rows = {}
    for dataset in SILVER:
        frame = duckdb.sql(
            f"select * from read_parquet('{lake}/silver/{dataset}/**/*.parquet', "
            "hive_partitioning = true)"
        ).df()
        # _ingest_at: when bronze ingested the line, which the re-run's own bronze run sets.
        frame = frame.drop(columns=["_ingest_at"])
        # dq_warnings is a list per row: compared as its text.
        frame["dq_warnings"] = frame["dq_warnings"].map(
            lambda v: str(None if v is None else list(v))
        )
        rows[dataset] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return rows


@dataclass
class Scene:
    landing: Path
    after: dict[str, Path]  # the lake as the uninterrupted run left it after bronze and silver
    gold: dict[str, pd.DataFrame]  # the uninterrupted run's
    silver: dict[str, pd.DataFrame]

    def lake_after(self, layer: str, tmp_path: Path) -> Path:
        """A copy of the lake the delivery's run left after ``layer``, as a job after it finds
        it (the catalog is the crawlers' and views', which these runs do not take)."""
        lake = tmp_path / "lake"
        shutil.copytree(self.after[layer], lake)
        return lake


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, job_runner: Callable[..., JobResult]) -> Scene:
    root = tmp_path_factory.mktemp("killed")
    landing, lake = root / "landing", root / "lake"
    source = Source.generated(root / "source", ORDER_LINES, SEED)
    source.land_initial(landing)
    run_layers(job_runner, lake, landing, "initial")
    Deliveries(source, landing, random.Random(SEED)).land(
        ("late_lines", "new_days", "products_only")
    )
    after = {layer: root / f"after-{layer}" for layer in ("bronze", "silver")}

    def keep(layer: str) -> None:
        shutil.copytree(lake, after[layer], ignore=shutil.ignore_patterns("_catalog"))

    summary = run_layers(job_runner, lake, landing, "delivery", after=keep)
    assert summary["mode"] == "incremental"
    return Scene(landing, after, gold_tables(lake), silver_rows(lake))


def appeared(path: Path) -> Callable[[float], bool]:
    return lambda _: path.exists()


def changed(folder: Path) -> Callable[[float], bool]:
    """Whether a job has begun changing a folder: a staging dir, a new file, or a deletion."""

    def check(since: float) -> bool:
        try:
            return any(
                "_temporary" in p.parts or p.stat().st_mtime > since for p in folder.rglob("*")
            )
        except OSError:  # a file vanished under the scan: the job is replacing its output
            return True

    return check


def kill_when(layer: str, options: dict[str, str], point: Callable[[float], bool]) -> None:
    """Start the real job as Glue's entry script, in its own process group, and SIGKILL the
    group (the job and its JVM, nothing else) as soon as ``point`` holds. Its JVM compiles as
    `medallion run` has a small run's compile (C1 only)."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), JIT_SETTING: "quick"}
    command = [sys.executable, str(entry_script(layer)), *job_arguments(options)]
    started = time.time()
    with subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as process:  # fmt: skip
        while process.poll() is None and not point(started):
            time.sleep(0.02)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        code = process.wait()
    assert code == -signal.SIGKILL, f"{layer} ended ({code}) before it was killed"


POINTS: dict[str, tuple[str, Callable[[Path], Callable[[float], bool]]]] = {
    "silver checking the batch": ("silver", lambda lake: appeared(lake / "_staging" / "checked")),
    "silver rewriting partitions": ("silver", lambda lake: changed(lake / "silver")),
    "gold staging its marts": ("gold", lambda lake: appeared(lake / "_staging" / "gold")),
    "gold publishing, before recording": (
        "gold",
        lambda lake: appeared(lake / "_meta" / "gold" / "publish.json"),
    ),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_a_run_killed_and_run_again_ends_as_an_uninterrupted_run(
    scene: Scene, job_runner: Callable[..., JobResult], tmp_path: Path, point: str
) -> None:
    layer, condition = POINTS[point]
    lake = scene.lake_after("bronze" if layer == "silver" else "silver", tmp_path)
    options = {"lake_root": str(lake), "run_id": "delivery", "landing_root": str(scene.landing)}
    if layer == "silver":
        kill_when("silver", options, condition(lake))
    else:
        kill_when("gold", {"lake_root": str(lake), "run_id": "delivery"}, condition(lake))

    run_layers(job_runner, lake, scene.landing, "delivery")

    assert_same_tables(silver_rows(lake), scene.silver)
    assert_same_tables(gold_tables(lake), scene.gold)
    assert not (lake / "_meta" / "gold" / "publish.json").exists()
    assert not (lake / "_staging" / "gold").exists()


TOTALS = (
    "select (select count(*) from gold.sales_daily),"
    " (select sum(net_revenue) from gold.sales_daily),"
    " (select count(*) from gold.product_monthly),"
    " (select sum(revenue) from gold.product_monthly),"
    " (select sum(units_sold_28d) from gold.inventory_health)"
)


def totals(lake: Path) -> tuple[object, ...]:
    """What an analyst's query sees of the three partitioned marts, through the local catalog."""
    with catalog.connect(str(lake)) as con:
        row = con.execute(TOTALS).fetchone()
    assert row is not None
    return tuple(row)


def test_a_query_during_a_gold_run_sees_the_marts_before_or_after_it_whole(
    scene: Scene, job_runner: Callable[..., JobResult], tmp_path: Path
) -> None:
    """A query holds the catalog's lock while it reads (shared, as every query does): gold,
    its new versions staged, waits for it to publish them, so the query sees the old marts."""
    lake = scene.lake_after("silver", tmp_path)  # gold as the delivery found it
    catalog.build_catalog(str(lake))
    before = totals(lake)
    journal = lake / "_meta" / "gold" / "publish.json"
    with ThreadPoolExecutor(max_workers=1) as pool:
        with catalog.connect(str(lake)) as reader:
            gold = pool.submit(job_runner, "gold", {"lake_root": str(lake), "run_id": "delivery"})
            while not journal.exists() and not gold.done():
                time.sleep(0.05)
            time.sleep(1.0)
            assert journal.exists() and not gold.done(), "gold published under a reader"
            assert tuple(reader.execute(TOTALS).fetchone() or ()) == before
        assert gold.result().state == "SUCCEEDED"
    after = totals(lake)
    assert after != before
