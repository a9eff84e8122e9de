"""CloudFormation: stacks, change sets and stack events, with named errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from medallion.aws import AwsError, client

#: States a stack cannot be deployed from without a human deciding what to do.
FAILED_STATES = frozenset(
    {
        "CREATE_FAILED",
        "ROLLBACK_IN_PROGRESS",
        "ROLLBACK_FAILED",
        "ROLLBACK_COMPLETE",
        "DELETE_FAILED",
        "UPDATE_ROLLBACK_FAILED",
        "IMPORT_ROLLBACK_FAILED",
    }
)
SUCCESS_STATES = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
)
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


class StackNotFoundError(AwsError):
    """The stack does not exist."""


class StackStateError(AwsError):
    """The stack is in a state that does not allow the operation."""


class ChangeSetError(AwsError):
    """A change set could not be created."""


class NoChangesError(AwsError):
    """The change set is empty: the stack is already up to date."""


class StackOperationError(AwsError):
    """A create, update or delete ended in failure (the message names the first failed resource)."""


@dataclass(frozen=True)
class Stack:
    """A stack as described."""

    name: str
    stack_id: str
    status: str
    reason: str
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One resource change of a change set."""

    action: str
    logical_id: str
    resource_type: str
    replacement: str


@dataclass(frozen=True)
class ChangeSet:
    """A created change set and its changes."""

    name: str
    stack_name: str
    stack_id: str
    change_set_type: str
    changes: list[Change]


@dataclass(frozen=True)
class StackEvent:
    """One stack event."""

    event_id: str
    timestamp: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str


def _cfn(session: boto3.Session | None, endpoint_url: str | None, region: str | None) -> Any:
    return client("cloudformation", session, endpoint_url, region)


def describe_stack(
    name: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> Stack | None:
    """The stack, or None if there is none of that name.

    Parameters
    ----------
    name : str
        Stack name or id (an id also finds a deleted stack).
    session, endpoint_url, region
        Where to look (see :func:`medallion.aws.client`).

    Returns
    -------
    Stack or None
        The stack.
    """
    try:
        found = _cfn(session, endpoint_url, region).describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    if not found:
        return None
    raw = found[0]
    return Stack(
        name=raw["StackName"],
        stack_id=raw["StackId"],
        status=raw["StackStatus"],
        reason=raw.get("StackStatusReason", ""),
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in raw.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in raw.get("Parameters", [])
        },
    )


def _change_set_request(
    stack_name: str,
    change_set_type: str,
    parameters: Mapping[str, str | None],
    tags: Mapping[str, str] | None,
) -> dict[str, Any]:
    """CreateChangeSet's arguments but the template; a None parameter keeps its previous value."""
    return {
        "StackName": stack_name,
        "ChangeSetName": f"medallion-{datetime.now():%Y%m%d-%H%M%S}",
        "ChangeSetType": change_set_type,
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        "Parameters": [
            {"ParameterKey": k, "UsePreviousValue": True}
            if v is None
            else {"ParameterKey": k, "ParameterValue": v}
            for k, v in parameters.items()
        ],
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }


def create_change_set(
    stack_name: str,
    *,
    change_set_type: str,
    parameters: Mapping[str, str | None],
    template_body: str | None = None,
    template_url: str | None = None,
    tags: Mapping[str, str] | None = None,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    poll_seconds: float = 2.0,
) -> ChangeSet:
    """Create a change set and wait until it is ready to review.

    Parameters
    ----------
    stack_name : str
        The stack.
    change_set_type : str
        ``CREATE`` for a new stack, ``UPDATE`` otherwise.
    parameters : mapping
        Parameter values; ``None`` keeps the stack's previous value.
    template_body, template_url : str, optional
        The template, inline (up to 51,200 bytes) or as an S3 URL.
    tags : mapping, optional
        Stack tags, propagated to the resources.
    session, endpoint_url, region
        Where (see :func:`medallion.aws.client`).
    poll_seconds : float
        How often to poll.

    Returns
    -------
    ChangeSet
        The change set with its changes.

    Raises
    ------
    NoChangesError
        The stack already matches (no resource changes); the empty change set is deleted.
    ChangeSetError
        The change set failed for another reason.
    """
    cfn = _cfn(session, endpoint_url, region)
    request = _change_set_request(stack_name, change_set_type, parameters, tags)
    if template_url:
        request["TemplateURL"] = template_url
    else:
        request["TemplateBody"] = template_body
    try:
        created = cfn.create_change_set(**request)
    except ClientError as exc:
        message = exc.response["Error"]["Message"]
        if any(marker in message for marker in NO_CHANGES):
            raise NoChangesError(f"{stack_name} is up to date") from exc
        raise ChangeSetError(f"{stack_name}: {message}") from exc
    change_set_id = created["Id"]
    while True:
        described = cfn.describe_change_set(ChangeSetName=change_set_id, StackName=stack_name)
        status = described["Status"]
        if status == "CREATE_COMPLETE":
            break
        if status == "FAILED":
            reason = described.get("StatusReason", "")
            cfn.delete_change_set(ChangeSetName=change_set_id, StackName=stack_name)
            if any(marker in reason for marker in NO_CHANGES):
                raise NoChangesError(f"{stack_name} is up to date")
            raise ChangeSetError(f"{stack_name}: change set failed: {reason}")
        time.sleep(poll_seconds)
    if change_set_type == "UPDATE" and not described.get("Changes"):
        cfn.delete_change_set(ChangeSetName=change_set_id, StackName=stack_name)
        raise NoChangesError(f"{stack_name} is up to date")
    return ChangeSet(
        name=change_set_id,
        stack_name=stack_name,
        stack_id=described.get("StackId", created.get("StackId", stack_name)),
        change_set_type=change_set_type,
        changes=[_change(c) for c in described.get("Changes", [])],
    )


def _change(raw: dict[str, Any]) -> Change:
    resource = raw.get("ResourceChange", {})
    return Change(
        action=resource.get("Action", ""),
        logical_id=resource.get("LogicalResourceId", ""),
        resource_type=resource.get("ResourceType", ""),
        replacement=resource.get("Replacement", "") or "",
    )


def delete_change_set(
    change_set: ChangeSet,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> None:
    """Delete a change set that will not be executed (and a stack it was to create)."""
    cfn = _cfn(session, endpoint_url, region)
    cfn.delete_change_set(ChangeSetName=change_set.name, StackName=change_set.stack_name)
    if change_set.change_set_type == "CREATE":
        cfn.delete_stack(StackName=change_set.stack_id)  # left in REVIEW_IN_PROGRESS otherwise


def execute_change_set(
    change_set: ChangeSet,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> None:
    """Start applying a change set; follow it with :func:`wait_for_stack`."""
    _cfn(session, endpoint_url, region).execute_change_set(
        ChangeSetName=change_set.name, StackName=change_set.stack_name
    )


def stack_events(
    stack: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> list[StackEvent]:
    """The stack's events, oldest first.

    Parameters
    ----------
    stack : str
        Stack name or id.
    session, endpoint_url, region
        Where (see :func:`medallion.aws.client`).

    Returns
    -------
    list of StackEvent
        Every event CloudFormation keeps for the stack.
    """
    cfn = _cfn(session, endpoint_url, region)
    events: list[StackEvent] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack):
        for raw in page["StackEvents"]:
            events.append(
                StackEvent(
                    event_id=raw["EventId"],
                    timestamp=raw["Timestamp"],
                    logical_id=raw.get("LogicalResourceId", ""),
                    resource_type=raw.get("ResourceType", ""),
                    status=raw.get("ResourceStatus", ""),
                    reason=raw.get("ResourceStatusReason", "") or "",
                )
            )
    return sorted(events, key=lambda e: e.timestamp)


def wait_for_stack(
    stack_id: str,
    *,
    on_event: Callable[[StackEvent], None] | None = None,
    on_status: Callable[[str], None] | None = None,
    since: datetime | None = None,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    poll_seconds: float = 5.0,
    timeout_seconds: float = 3600.0,
) -> Stack:
    """Wait until the stack's operation ends, reporting events as they come.

    Parameters
    ----------
    stack_id : str
        The stack's id (a deleted stack is only found by id).
    on_event : callable, optional
        Called with each new event.
    on_status : callable, optional
        Called with the stack status at each poll.
    since : datetime, optional
        Events before this are not reported.
    session, endpoint_url, region
        Where (see :func:`medallion.aws.client`).
    poll_seconds, timeout_seconds : float
        How often to poll, and for how long at most.

    Returns
    -------
    Stack
        The stack in its final state.

    Raises
    ------
    StackOperationError
        The operation failed or rolled back; the message names the first resource that failed.
    """
    seen: set[str] = set()
    failures: list[StackEvent] = []
    deadline = time.monotonic() + timeout_seconds
    while True:
        stack = describe_stack(stack_id, session, endpoint_url, region)
        for event in stack_events(stack_id, session, endpoint_url, region):
            if event.event_id in seen or (since and event.timestamp < since):
                continue
            seen.add(event.event_id)
            if event.status.endswith("_FAILED"):
                failures.append(event)
            if on_event:
                on_event(event)
        if stack is None:
            raise StackNotFoundError(f"stack {stack_id} disappeared")
        if on_status:
            on_status(stack.status)
        if not stack.status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise StackOperationError(f"{stack.name} still {stack.status} after {timeout_seconds}s")
        time.sleep(poll_seconds)
    if stack.status not in SUCCESS_STATES:
        first = next((e for e in failures if "cancelled" not in e.reason.lower()), None)
        detail = f": {first.logical_id} ({first.resource_type}): {first.reason}" if first else ""
        raise StackOperationError(f"{stack.name} ended {stack.status}{detail}")
    return stack


def delete_stack(
    stack_id: str,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> None:
    """Start deleting a stack; follow it with :func:`wait_for_stack`."""
    _cfn(session, endpoint_url, region).delete_stack(StackName=stack_id)


def stack_resources(
    stack: str,
    resource_type: str | None = None,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> dict[str, str]:
    """The stack's resources: logical id to physical id, optionally of one type only.

    Parameters
    ----------
    stack : str
        Stack name or id.
    resource_type : str, optional
        E.g. ``AWS::S3::Bucket``.
    session, endpoint_url, region
        Where (see :func:`medallion.aws.client`).

    Returns
    -------
    dict
        Logical id to physical id.
    """
    cfn = _cfn(session, endpoint_url, region)
    found: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for raw in page["StackResourceSummaries"]:
            wanted = resource_type is None or raw["ResourceType"] == resource_type
            if wanted and raw.get("PhysicalResourceId"):
                found[raw["LogicalResourceId"]] = raw["PhysicalResourceId"]
    return found
