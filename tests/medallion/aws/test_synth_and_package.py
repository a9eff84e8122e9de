"""``medallion synth`` writes the template; the deploy package is complete and reproducible."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from cfnlint.decode import decode_str
from typer.testing import CliRunner

from medallion import REPO_ROOT
from medallion.aws.package import build_jobs_zip, package
from medallion.cli import app


def test_synth_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "stack.json"
    result = CliRunner().invoke(app, ["synth", "--env", "dev", "--out", str(out)])
    assert result.exit_code == 0, result.output
    template = json.loads(out.read_text())
    assert "PipelineStateMachine" in template["Resources"]
    assert template["Parameters"]["Environment"]["Default"] == "dev"


def test_synth_writes_yaml_for_a_yaml_file(tmp_path: Path) -> None:
    out = tmp_path / "stack.yaml"
    result = CliRunner().invoke(app, ["synth", "--env", "prod", "--out", str(out)])
    assert result.exit_code == 0, result.output
    template, errors = decode_str(out.read_text())
    assert not errors
    assert template["Parameters"]["Environment"]["Default"] == "prod"
    assert set(template["Resources"]) == set(json.loads(_stdout("prod"))["Resources"])


def _stdout(env: str) -> str:
    result = CliRunner().invoke(app, ["synth", "--env", env])
    assert result.exit_code == 0
    return result.stdout


def test_environment_names_keep_bucket_names_short() -> None:
    pattern = json.loads(_stdout("dev"))["Parameters"]["Environment"]["AllowedPattern"]
    assert pattern == "^[a-z][a-z0-9]{1,9}$"  # bucket names stay under 63 characters


def test_jobs_zip_is_reproducible_and_holds_only_the_package(tmp_path: Path) -> None:
    first = build_jobs_zip(REPO_ROOT, tmp_path / "a.zip").read_bytes()
    second = build_jobs_zip(REPO_ROOT, tmp_path / "b.zip").read_bytes()
    assert first == second
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert "jobs/__init__.py" in names and "jobs/common/runtime.py" in names
    assert all(n.startswith("jobs/") and "__pycache__" not in n for n in names)


def test_package_has_entry_scripts_zip_contracts_and_views(tmp_path: Path) -> None:
    keys = package(REPO_ROOT, tmp_path).keys()
    assert keys[:3] == ["jobs/bronze/job.py", "jobs/silver/job.py", "jobs/gold/job.py"]
    assert "jobs.zip" in keys
    contracts = {p.name for p in (REPO_ROOT / "contracts").glob("*.yaml")}
    assert {f"contracts/{name}" for name in contracts} <= set(keys)
    views = {p.name for p in (REPO_ROOT / "sql").glob("*.sql")}
    assert {f"sql/{name}" for name in views} <= set(keys)
