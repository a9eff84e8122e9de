"""The README check: every command of README.md's local sections does what the README says.

``scripts/readme_check.py`` runs them on small generated data (four ``medallion run`` on one lake,
then query, report, dashboard, synth) and checks each claim; a README command it neither checks
nor skips with a reason fails it, and so does a check whose command left the README.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "readme_check.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_readme_command_is_checked_or_skipped_with_a_reason() -> None:
    check = _script()
    commands = check.readme_commands((ROOT / "README.md").read_text())
    assert "medallion run" in commands and "medallion report" in commands
    assert check.coverage(commands) == []


def test_a_new_readme_command_or_a_stale_check_fails_the_check() -> None:
    check = _script()
    commands = check.readme_commands((ROOT / "README.md").read_text())
    added = check.readme_commands("```bash\nmedallion frobnicate --now   # new\n```\n")
    assert added == ["medallion frobnicate --now"]
    assert check.coverage(commands + added) == [
        "README command with no check or skip: medallion frobnicate --now"
    ]
    problems = check.coverage([c for c in commands if c != "medallion report"])
    assert problems == ["checked command no longer in the README: medallion report"]


@pytest.mark.slow
@pytest.mark.timeout(1500)  # four pipeline runs: 6.5 minutes beside another test run
def test_the_readme_commands_do_what_the_readme_says(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--workdir", str(tmp_path / "work")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
