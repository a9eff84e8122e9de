"""What the AWS operations commands share: options, the client, the ARN, following a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import boto3
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medallion.aws import stepfunctions as sfn_ops
from medallion.cli.progress import ProgressPrinter, summary_table

Env = Annotated[
    str,
    typer.Option("--env", help="Environment: the stack medallion-<env>.", envvar="MEDALLION_ENV"),
]
StateMachineArn = Annotated[
    str | None,
    typer.Option(
        help="The pipeline state machine (default: the stack's PipelineStateMachineArn output).",
        envvar="MEDALLION_STATE_MACHINE_ARN",
    ),
]
Region = Annotated[
    str | None, typer.Option(help="AWS region.", envvar=["MEDALLION_REGION", "AWS_REGION"])
]
EndpointUrl = Annotated[
    str | None,
    typer.Option(help="Another AWS endpoint (e.g. moto).", envvar="MEDALLION_ENDPOINT_URL"),
]


@dataclass(frozen=True)
class Target:
    """Where the operations go: a Step Functions client and the pipeline's state machine."""

    sfn: Any
    session: boto3.Session
    endpoint_url: str | None
    env: str
    explicit_arn: str | None

    @property
    def state_machine_arn(self) -> str:
        """The ARN given, or the one from the stack's outputs."""
        return sfn_ops.state_machine_arn(
            self.env, self.explicit_arn, session=self.session, endpoint_url=self.endpoint_url
        )


def target(env: str, arn: str | None, region: str | None, endpoint_url: str | None) -> Target:
    """The client and state machine the options name."""
    session = boto3.Session(region_name=region) if region else boto3.Session()
    return Target(sfn_ops.client(session, endpoint_url), session, endpoint_url, env, arn)


def fail(message: str) -> typer.Exit:
    """Print an error line and give the exit to raise."""
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def follow(console: Console, sfn: Any, execution_arn: str, poll_seconds: float = 5.0) -> str:
    """Follow an execution like ``medallion run`` does; returns its final status."""
    printer = ProgressPrinter(console)
    events: list[sfn_ops.StepEvent] = []

    def on_event(event: sfn_ops.StepEvent) -> None:
        events.append(event)
        printer(event)

    described = sfn_ops.follow(execution_arn, on_event, poll_seconds=poll_seconds, sfn=sfn)
    console.print(summary_table(events, {}, None))
    status = str(described["status"])
    if status != "SUCCEEDED":
        console.print(
            f"[bold red]{status}[/bold red] {escape(described.get('error', ''))}: "
            f"{escape(described.get('cause', ''))}"
        )
    return status


def executions_table(executions: list[dict[str, Any]], title: str) -> Table:
    """Executions as a table: name, status, start, stop."""
    table = Table(title=title, title_justify="left")
    for column in ("execution", "status", "started", "stopped"):
        table.add_column(column)
    colours = {"SUCCEEDED": "green", "FAILED": "red", "RUNNING": "yellow"}
    for execution in executions:
        status = str(execution.get("status", ""))
        colour = colours.get(status, "white")
        table.add_row(
            escape(str(execution.get("name", ""))),
            f"[{colour}]{status}[/{colour}]",
            str(execution.get("startDate", "")),
            str(execution.get("stopDate", "") or ""),
        )
    return table
