"""One run-id rule everywhere: Step Functions' execution-name rule, refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from medallion.aws.stepfunctions import StepFunctionsError, execution_name
from medallion.cli import app

REFUSED = ["2011:12:09", "a b", "x" * 81, "run/1", "run#1", "tab\there"]


@pytest.mark.parametrize("run_id", REFUSED)
@pytest.mark.parametrize("command", ["run", "start"])
def test_a_run_id_step_functions_refuses_is_a_usage_error(
    command: str, run_id: str, tmp_path: Path
) -> None:
    lake = ["--lake", str(tmp_path)] if command == "run" else []
    result = CliRunner().invoke(app, [command, "--run-id", run_id, *lake])
    assert result.exit_code == 2, result.output
    assert "--run-id" in result.output
    # Refused while parsing: no lake, no JVM, no execution.
    assert not (tmp_path / "_meta").exists()


@pytest.mark.parametrize("run_id", REFUSED)
def test_an_execution_name_is_never_rewritten(run_id: str) -> None:
    with pytest.raises(StepFunctionsError, match="run id"):
        execution_name(run_id)


def test_a_run_id_is_the_execution_name_and_a_generated_one_keeps_the_rule() -> None:
    assert execution_name("2011-12-09.retry_1") == "2011-12-09.retry_1"
    generated = execution_name("")
    assert generated.startswith("run-") and len(generated) <= 80
    assert execution_name(generated) == generated
