"""Job arguments as Glue passes them: required ones checked, unset ones given their defaults."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from jobs.common.args import JobArgs, check_run_id
from jobs.common.errors import JobArgumentError

ROOT = Path(__file__).resolve().parents[3]


def test_unset_options_take_defaults_and_sentinels_mean_unset() -> None:
    args = JobArgs.from_argv(
        ["job.py", "--lake_root", "s3://lake/", "--run_id", "r1", "--datasets", "all",
         "--observation_end", "none"]
    )  # fmt: skip
    assert args.lake_root == "s3://lake" and args.landing_root == "s3://lake/landing"
    assert args.datasets == () and args.observation_end is None and not args.full_refresh


def test_values_are_parsed_and_bad_ones_named() -> None:
    args = JobArgs.from_argv(
        ["job.py", "--lake_root", "/l", "--run_id", "r1", "--datasets", "orders, products",
         "--observation_end", "2011-12-09", "--full_refresh", "true"]
    )  # fmt: skip
    assert args.datasets == ("orders", "products") and args.observation_end == date(2011, 12, 9)
    assert args.full_refresh
    with pytest.raises(JobArgumentError, match="--observation_end '2011-13-40' is not a date"):
        JobArgs.from_argv(
            ["j", "--lake_root", "/l", "--run_id", "r", "--observation_end", "2011-13-40"]
        )
    with pytest.raises(JobArgumentError, match=r"missing argument.*--run_id"):
        JobArgs.from_argv(["j", "--lake_root", "/l"])


@pytest.mark.parametrize(
    "run_id",
    ["r1", "r1.2", "cmp-1", "run-20240101T000000Z-abc123", "a" * 80, "_x", "Lauf_ä", "a=b(c)'+@!"],
)
def test_run_ids_step_functions_accepts_as_execution_names_are_valid(run_id: str) -> None:
    assert check_run_id(run_id) == run_id
    assert JobArgs.from_argv(["j", "--lake_root", "/l", "--run_id", run_id]).run_id == run_id


@pytest.mark.parametrize(
    ("run_id", "problem"),
    [
        ("", "must be 1 to 80 characters, not 0"),
        ("a" * 81, "must be 1 to 80 characters, not 81"),
        ("2024-01-01T00:00:00", "may not contain ':'"),
        ("a b", "may not contain ' '"),
        ("a\tb", "may not contain '\\\\t'"),
        ("a\u00a0b", "may not contain '\\\\xa0'"),
        ("a\x85b", "may not contain '\\\\x85'"),
        ("a\ufffeb", "may not contain '\\\\ufffe'"),
        *[(f"r{c}1", "may not contain") for c in '<>{}[]?*"#%\\^|~`$&,;:/'],
    ],
)
def test_run_ids_step_functions_refuses_are_named_with_the_problem(
    run_id: str, problem: str
) -> None:
    with pytest.raises(JobArgumentError, match=problem):
        check_run_id(run_id)


def test_the_run_id_rule_is_importable_without_pyspark() -> None:
    code = (
        "import sys; from jobs.common.args import RUN_ID_PATTERN, check_run_id; "
        "check_run_id('r1.2'); assert 'pyspark' not in sys.modules, 'pyspark imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
