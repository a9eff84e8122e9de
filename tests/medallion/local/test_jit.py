"""How a local run's JVM compiles: C1 only for a run with little to do, decided from the lake
bronze wrote in a real run; and ``medallion run`` refuses a bad setting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from medallion.local import jit
from medallion.local.jit import jit_mode, new_landing_bytes

REPO = Path(__file__).resolve().parents[3]


def sizes(landing: Path) -> int:
    """Bytes of the files in the dataset folders (the generator's manifest beside them is not)."""
    return sum(p.stat().st_size for p in landing.glob("*/**/*") if p.is_file())


def bronze_bytes(lake: Path) -> int:
    """Bytes of bronze's Parquet files (not its _meta, not Spark's hidden .crc files)."""
    files = [p for p in (lake / "bronze").rglob("*.parquet") if p.is_file()]
    return sum(p.stat().st_size for p in files if not p.name.startswith("."))


def test_a_landing_bronze_took_has_no_new_bytes_and_runs_quick(pipeline_lake: Path):
    landing = pipeline_lake.parent / "landing"  # the run's landing, every file ingested
    assert sizes(landing) > 0
    assert new_landing_bytes(pipeline_lake, landing) == 0
    assert jit_mode(pipeline_lake, landing, full_refresh=False, env={}) == "quick"


def test_a_full_refresh_counts_the_bronze_it_rebuilds_from(
    pipeline_lake: Path, monkeypatch: pytest.MonkeyPatch
):
    landing = pipeline_lake.parent / "landing"
    rebuilt = jit.PARQUET_TO_CSV * bronze_bytes(pipeline_lake)
    assert rebuilt > 0
    monkeypatch.setattr(jit, "QUICK_RUN_BYTES", rebuilt)
    assert jit_mode(pipeline_lake, landing, full_refresh=True, env={}) == "quick"
    monkeypatch.setattr(jit, "QUICK_RUN_BYTES", rebuilt - 1)
    assert jit_mode(pipeline_lake, landing, full_refresh=True, env={}) == "full"
    assert jit_mode(pipeline_lake, landing, full_refresh=False, env={}) == "quick"


def test_files_bronze_has_not_taken_are_new(
    pipeline_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The same files at another path are other files to bronze: every byte of them is new.
    landing = shutil.copytree(pipeline_lake.parent / "landing", tmp_path / "landing")
    (landing / "order_lines" / "_SUCCESS").write_text("a marker, not data")
    expected = sizes(landing) - len("a marker, not data")
    assert new_landing_bytes(pipeline_lake, landing) == expected
    monkeypatch.setattr(jit, "QUICK_RUN_BYTES", expected)
    assert jit_mode(pipeline_lake, landing, full_refresh=False, env={}) == "quick"
    monkeypatch.setattr(jit, "QUICK_RUN_BYTES", expected - 1)
    assert jit_mode(pipeline_lake, landing, full_refresh=False, env={}) == "full"


def test_a_link_to_nothing_is_no_work(pipeline_lake: Path, tmp_path: Path):
    landing = shutil.copytree(pipeline_lake.parent / "landing", tmp_path / "landing")
    (landing / "order_lines" / "moved away.csv").symlink_to(tmp_path / "nowhere.csv")
    assert new_landing_bytes(pipeline_lake, landing) == sizes(landing)


def test_a_lake_gold_never_published_counts_its_bronze(
    copy_lake: Callable[[Path], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    lake = copy_lake(tmp_path / "lake")
    (lake / jit.GOLD_STATE).unlink()
    landing = tmp_path / "landing"
    landing.mkdir()
    rebuilt = jit.PARQUET_TO_CSV * bronze_bytes(lake)
    monkeypatch.setattr(jit, "QUICK_RUN_BYTES", rebuilt - 1)
    assert jit_mode(lake, landing, False, env={}) == "full"
    monkeypatch.setattr(jit, "QUICK_RUN_BYTES", rebuilt)
    assert jit_mode(lake, landing, False, env={}) == "quick"


def test_a_first_run_of_a_small_landing_is_quick_and_of_a_large_one_tiered(
    pipeline_lake: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    landing = pipeline_lake.parent / "landing"
    assert jit_mode(tmp_path / "new-lake", landing, False, env={}) == "quick"
    monkeypatch.setattr(jit, "QUICK_RUN_BYTES", sizes(landing) - 1)
    assert jit_mode(tmp_path / "new-lake", landing, False, env={}) == "full"


def test_the_environment_decides_when_set(tmp_path: Path):
    for value, mode in (("quick", "quick"), ("FULL", "full"), (" quick ", "quick")):
        assert jit_mode(tmp_path, tmp_path, True, env={"MEDALLION_JIT": value}) == mode
    with pytest.raises(ValueError, match="MEDALLION_JIT must be 'quick', 'full' or 'auto'"):
        jit_mode(tmp_path, tmp_path, True, env={"MEDALLION_JIT": "fast"})


def test_medallion_run_refuses_a_bad_setting_before_starting(tmp_path: Path):
    medallion = Path(sys.executable).with_name("medallion")
    env = {**os.environ, "MEDALLION_JIT": "fast"}
    done = subprocess.run(
        [str(medallion), "run", "--lake", str(tmp_path / "lake")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "MEDALLION_JIT must be 'quick', 'full' or 'auto', not 'fast'" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "lake").exists()
