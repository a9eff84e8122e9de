"""Options refused before anything starts, options' environment variables, and formats taken from
an output file's extension, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer.main
from typer.testing import CliRunner

from medallion.cli import app
from medallion.cli.options import RUN_OPTION_ENV
from medallion.local import pipeline


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The run options ``run_local`` was called with; it returns a succeeded run at once."""
    calls: list[Any] = []

    def fake_run_local(config: Any, options: Any, on_event: Any = None) -> Any:
        calls.append(options)
        return SimpleNamespace(
            execution_arn="arn",
            status="SUCCEEDED",
            error="",
            cause="",
            failed_state=None,
            summaries={},
            alerts=[],
            history=[],
        )

    monkeypatch.setattr(pipeline, "run_local", fake_run_local)
    return calls


@pytest.mark.parametrize("command", ["run", "start"])
def test_an_unknown_dataset_is_refused_with_the_valid_ones(
    command: str, started: list[Any], tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, [command, "--datasets", "order_lines,order_line"])

    assert result.exit_code == 2
    assert "unknown dataset(s) order_line;" in result.output
    assert "customers, inventory, order_lines, products, reviews" in result.output
    assert started == []


def test_an_impossible_date_is_refused_before_anything_starts(started: list[Any]) -> None:
    result = CliRunner().invoke(app, ["run", "--observation-end", "2011-02-30"])

    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
    assert started == []


def test_full_refresh_and_json_have_environment_variables(
    started: list[Any], tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["run", "--lake", str(tmp_path / "lake")],
        env={"MEDALLION_FULL_REFRESH": "1", "MEDALLION_JSON": "1"},
    )

    assert result.exit_code == 0, result.output
    assert started[0].full_refresh is True
    assert json.loads(result.stdout)["status"] == "SUCCEEDED"


def test_query_output_takes_its_format_from_the_extension(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "gold" / "sample").mkdir(parents=True)
    pq.write_table(pa.table({"id": [1, 2]}), lake / "gold" / "sample" / "part-0.parquet")
    sql = "select id from gold.sample order by id"
    for name, read in (
        ("seg.csv", lambda p: p.read_text()),
        ("seg.json", lambda p: json.loads(p.read_text())),
        ("seg.parquet", lambda p: pq.read_table(p).to_pylist()),
    ):
        out = tmp_path / name
        result = CliRunner().invoke(app, ["query", "--lake", str(lake), "--output", str(out), sql])
        assert result.exit_code == 0, result.output
        assert read(out) in ("id\n1\n2\n", [{"id": 1}, {"id": 2}]), name


def test_run_option_env_names_every_environment_variable_of_medallion_run() -> None:
    command = typer.main.get_command(app)
    run = command.commands["run"]  # type: ignore[attr-defined]
    envvars = {p.envvar for p in run.params if getattr(p, "envvar", None)}
    assert envvars == set(RUN_OPTION_ENV)


def test_a_landing_named_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "drop-typo"
    result = CliRunner().invoke(app, ["run", "--lake", str(tmp_path), "--landing", str(missing)])
    assert result.exit_code == 2, result.output
    assert f"--landing {missing}: no such folder" in " ".join(result.output.split())
    assert not (tmp_path / "_meta").exists()  # refused before anything started
