"""The rendered template passes cfn-lint (no errors) and checkov (no failed checks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from infra.stack import render

REPO = Path(__file__).resolve().parents[2]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


def checkov_binary() -> str:
    """checkov lives in its own environment (scripts/setup.sh --test puts it in .tools)."""
    found = shutil.which("checkov") or str(REPO / ".tools" / "checkov" / "bin" / "checkov")
    if not Path(found).is_file():
        pytest.fail("checkov is not installed: run `bash scripts/setup.sh --test`")
    return found


@pytest.mark.parametrize("bootstrap", [False, True], ids=["full", "bootstrap"])
def test_cfn_lint_finds_no_errors(bootstrap: bool) -> None:
    matches = lint(render("dev", bootstrap=bootstrap), config=ManualArgs(regions=REGIONS))
    errors = [f"{m.rule.id} {m.message} ({m.path})" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
    warnings = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("W")]
    assert warnings == []


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("checkov")
    template = folder / "medallion-dev.json"
    template.write_text(render("dev"), encoding="utf-8")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    result = subprocess.run(
        [
            checkov_binary(),
            "-f",
            str(template),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.stdout.strip(), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_has_no_failed_checks(checkov_report: dict[str, Any]) -> None:
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in checkov_report["results"]["failed_checks"]
    ]
    assert failed == []
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert checkov_report["summary"]["passed"] > 50


def test_every_checkov_skip_is_written_in_the_template_with_a_reason(
    checkov_report: dict[str, Any],
) -> None:
    template = json.loads(render("dev"))
    written = {
        (logical_id, skip["id"]): skip["comment"]
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    assert all(len(comment) > 20 for comment in written.values())
    skipped = checkov_report["results"]["skipped_checks"]
    for check in skipped:
        logical_id = check["resource"].split(".")[-1]
        assert (logical_id, check["check_id"]) in written, check["check_id"]
        assert check["check_result"]["suppress_comment"] == written[(logical_id, check["check_id"])]
    # A skip that checkov no longer reports is stale: remove it from the template.
    reported = {(c["resource"].split(".")[-1], c["check_id"]) for c in skipped}
    assert set(written) == reported
