"""Job arguments as Glue passes them: required ones checked, unset ones given their defaults."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.common.args import JobArgs
from jobs.common.errors import JobArgumentError


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
