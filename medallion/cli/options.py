"""The options several commands share, each defined once with its one environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.common.args import check_run_id
from jobs.common.errors import JobArgumentError

ENV = typer.Option("--env", help="Environment: the stack medallion-<env>.", envvar="MEDALLION_ENV")
REGION = typer.Option("--region", help="AWS region.", envvar="AWS_REGION")
ENDPOINT_URL = typer.Option(
    "--endpoint-url",
    help="Another AWS endpoint (e.g. a moto server).",
    envvar="MEDALLION_ENDPOINT_URL",
)

Env = Annotated[str, ENV]
OptionalEnv = Annotated[str | None, ENV]
Region = Annotated[str | None, REGION]
EndpointUrl = Annotated[str | None, ENDPOINT_URL]
Lake = Annotated[
    Path, typer.Option("--lake", help="The local lake directory.", envvar="MEDALLION_LAKE")
]
StateMachineArn = Annotated[
    str | None,
    typer.Option(
        "--state-machine-arn",
        help="The pipeline state machine (default: the stack's PipelineStateMachineArn output).",
        envvar="MEDALLION_STATE_MACHINE_ARN",
    ),
]


def _run_id(value: str | None) -> str | None:
    """Refuse a run id Step Functions would refuse as an execution name, before anything runs."""
    if value is None:
        return None
    try:
        return check_run_id(value, "--run-id")
    except JobArgumentError as exc:
        raise typer.BadParameter(str(exc)) from None


RunId = Annotated[
    str | None,
    typer.Option(
        "--run-id",
        help="The run id and execution name: 1-80 characters, Step Functions' execution-name rule "
        "(default: generated).",
        envvar="MEDALLION_RUN_ID",
        callback=_run_id,
    ),
]
Datasets = Annotated[
    str,
    typer.Option(
        "--datasets", help="Comma-separated datasets (default: all).", envvar="MEDALLION_DATASETS"
    ),
]
ObservationEnd = Annotated[
    str | None,
    typer.Option(
        "--observation-end",
        help="Gold's observation end, YYYY-MM-DD (default: the last date in the data).",
        envvar="MEDALLION_OBSERVATION_END",
    ),
]
FullRefresh = Annotated[
    bool,
    typer.Option(
        "--full-refresh",
        help="Recompute every layer from the one below.",
        envvar="MEDALLION_FULL_REFRESH",
    ),
]
Wait = Annotated[bool, typer.Option("--wait", help="Follow the execution until it ends.")]
AsJson = Annotated[
    bool, typer.Option("--json", help="Print JSON, nothing else.", envvar="MEDALLION_JSON")
]
Yes = Annotated[
    bool, typer.Option("--yes", "-y", help="Apply without asking.", envvar="MEDALLION_ASSUME_YES")
]
PollSeconds = Annotated[
    float,
    typer.Option(
        "--poll-seconds",
        min=0.01,
        help="Seconds between two progress polls.",
        envvar="MEDALLION_POLL_SECONDS",
        hidden=True,
    ),
]


# The environment variables that set an option of `medallion run`: a script that starts
# `medallion run` with options of its own (a benchmark, a test) removes them from the
# environment it passes, so none changes what it measures. tests/medallion/cli/test_options.py
# checks the list against the command's options.
RUN_OPTION_ENV = (
    "MEDALLION_LAKE",
    "MEDALLION_LANDING",
    "MEDALLION_RUN_ID",
    "MEDALLION_DATASETS",
    "MEDALLION_OBSERVATION_END",
    "MEDALLION_CONTRACTS",
    "MEDALLION_FULL_REFRESH",
    "MEDALLION_JSON",
)
