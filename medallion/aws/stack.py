"""An environment's stack: its name and outputs, and changing it through change sets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TypedDict

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from rich.console import Console
from rich.table import Table

from medallion.aws import Aborted, CredentialsError, DeployError, client
from medallion.aws import cloudformation as cfn
from medallion.aws.cloudformation import StackNotFoundError, describe_stack

PROJECT = "medallion"


def stack_name(env: str) -> str:
    """The stack of an environment: ``medallion-<env>``."""
    return f"{PROJECT}-{env}"


def stack_outputs(
    env: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> dict[str, str]:
    """The outputs of an environment's stack (``PipelineStateMachineArn``, ``LakeBucketName``...).

    Parameters
    ----------
    env : str
        The environment, e.g. ``dev``.
    session : boto3.Session, optional
        The session to use; the default one otherwise.
    endpoint_url : str, optional
        Another CloudFormation endpoint (a moto server in tests).
    region : str, optional
        The region; the session's otherwise.

    Returns
    -------
    dict
        Output key to value.

    Raises
    ------
    StackNotFoundError
        No stack for that environment: it has not been deployed.
    """
    name = stack_name(env)
    stack = describe_stack(name, session, endpoint_url, region)
    if stack is None or stack.status == "DELETE_COMPLETE":
        raise StackNotFoundError(
            f"stack {name} does not exist: deploy it with `medallion deploy --env {env}`"
        )
    return stack.outputs


class AwsArgs(TypedDict):
    """How every medallion.aws call reaches AWS."""

    session: boto3.Session | None
    endpoint_url: str | None
    region: str | None


@dataclass(frozen=True)
class Target:
    """Where to deploy: the environment, and how to reach AWS."""

    env: str
    region: str | None = None
    endpoint_url: str | None = None
    session: boto3.Session | None = None
    poll_seconds: float = 5.0

    @property
    def stack(self) -> str:
        """The stack name, ``medallion-<env>``."""
        return stack_name(self.env)

    @cached_property
    def _session(self) -> boto3.Session:
        # One session for the whole command: creating one per call costs more than the call.
        return self.session or boto3.Session(region_name=self.region)

    def aws(self) -> AwsArgs:
        """The keyword arguments of every medallion.aws call."""
        return {"session": self._session, "endpoint_url": self.endpoint_url, "region": self.region}


def check_credentials(target: Target) -> str:
    """The caller's ARN; fails clearly when there are no credentials or no region.

    Parameters
    ----------
    target : Target
        Where to deploy.

    Returns
    -------
    str
        The ARN of the identity the calls are made as.

    Raises
    ------
    CredentialsError
        No credentials, no region, or credentials AWS rejects.
    """
    try:
        return str(client("sts", **target.aws()).get_caller_identity()["Arn"])
    except NoCredentialsError as exc:
        raise CredentialsError(
            "No AWS credentials found. Set AWS_PROFILE (after `aws sso login` or `aws configure`), "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
        ) from exc
    except NoRegionError as exc:
        raise CredentialsError("No AWS region: pass --region or set AWS_REGION.") from exc
    except ClientError as exc:
        raise CredentialsError(f"AWS rejected the credentials: {exc}") from exc


def region_of(target: Target) -> str:
    return str(client("cloudformation", **target.aws()).meta.region_name)


def guard(stack: cfn.Stack | None, env: str) -> None:
    """Refuse to deploy a stack that is failed or busy, saying what to do instead."""
    if stack is None:
        return
    if stack.status in cfn.FAILED_STATES:
        hint = (
            f"run `aws cloudformation continue-update-rollback --stack-name {stack.name}`, "
            "then deploy again"
            if stack.status == "UPDATE_ROLLBACK_FAILED"
            else "see its events in the CloudFormation console, run "
            f"`medallion destroy --env {env}`, then deploy again"
        )
        reason = f" ({stack.reason})" if stack.reason else ""
        raise DeployError(f"stack {stack.name} is in {stack.status}{reason}: {hint}.")
    if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack.name} is busy ({stack.status}); wait and try again.")


def _show_changes(console: Console, change_set: cfn.ChangeSet) -> None:
    table = Table(title=f"{change_set.stack_name}: change set ({change_set.change_set_type})")
    for column in ("action", "logical id", "type", "replacement"):
        table.add_column(column)
    for change in change_set.changes:
        table.add_row(change.action, change.logical_id, change.resource_type, change.replacement)
    console.print(table)


def apply_template(
    target: Target,
    *,
    change_set_type: str,
    parameters: Mapping[str, str | None],
    console: Console,
    confirm: Callable[[str], bool],
    template_body: str | None = None,
    template_url: str | None = None,
) -> bool:
    """Create a change set, show it, and (once confirmed) execute it and follow it to the end.

    Parameters
    ----------
    target : Target
        Where.
    change_set_type : str
        ``CREATE`` or ``UPDATE``.
    parameters : mapping
        Stack parameters; ``None`` keeps the previous value.
    console : Console
        Where progress is printed.
    confirm : callable
        Asked with a question before executing; return False to abort.
    template_body, template_url : str, optional
        The template, inline or in S3.

    Returns
    -------
    bool
        True if the stack changed, False if it was already up to date.
    """
    try:
        change_set = cfn.create_change_set(
            target.stack,
            change_set_type=change_set_type,
            parameters=parameters,
            template_body=template_body,
            template_url=template_url,
            tags={"project": "medallion", "environment": target.env},
            poll_seconds=min(target.poll_seconds, 2.0),
            **target.aws(),
        )
    except cfn.NoChangesError:
        console.print(f"[green]{target.stack} is up to date: no changes.[/green]")
        return False
    _show_changes(console, change_set)
    if not confirm(f"Apply these {len(change_set.changes)} change(s) to {target.stack}?"):
        cfn.delete_change_set(change_set, **target.aws())
        raise Aborted("deploy cancelled: the change set was deleted, nothing changed")
    started = datetime.now(UTC)
    cfn.execute_change_set(change_set, **target.aws())
    follow(target, change_set.stack_id, started, console)
    return True


def follow(target: Target, stack_id: str, started: datetime, console: Console) -> cfn.Stack:
    with console.status(f"{target.stack}: waiting") as status:

        def on_event(event: cfn.StackEvent) -> None:
            colour = "red" if event.status.endswith("FAILED") else "dim"
            reason = f" {event.reason}" if event.reason else ""
            console.print(
                f"[{colour}]{event.timestamp:%H:%M:%S} {event.logical_id} "
                f"{event.status}{reason}[/{colour}]"
            )

        try:
            return cfn.wait_for_stack(
                stack_id,
                on_event=on_event,
                on_status=lambda s: status.update(f"{target.stack}: {s}"),
                since=started.replace(microsecond=0),
                poll_seconds=target.poll_seconds,
                **target.aws(),
            )
        except cfn.StackOperationError as exc:
            raise DeployError(str(exc)) from exc
