"""How a local run's JVM compiles: C1 only for a small delivery on a lake that has run, decided
from the lake bronze wrote in a real run; and ``medallion run`` refuses a bad setting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from medallion.local import jit
from medallion.local.jit import jit_mode, new_landing_bytes

REPO = Path(__file__).resolve().parents[3]


def sizes(landing: Path) -> int:
    """Bytes of the files in the dataset folders (the generator's manifest beside them is not)."""
    return sum(p.stat().st_size for p in landing.glob("*/**/*") if p.is_file())


def test_a_landing_bronze_took_has_no_new_bytes_and_runs_quick(pipeline_lake: Path):
    landing = pipeline_lake.parent / "landing"  # the run's landing, every file ingested
    assert sizes(landing) > 0
    assert new_landing_bytes(pipeline_lake, landing) == 0
    assert jit_mode(pipeline_lake, landing, full_refresh=False, env={}) == "quick"
    assert jit_mode(pipeline_lake, landing, full_refresh=True, env={}) == "full"


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


def test_a_lake_gold_never_published_runs_tiered(tmp_path: Path):
    (tmp_path / "landing").mkdir()
    assert jit_mode(tmp_path / "lake", tmp_path / "landing", False, env={}) == "full"


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
