"""Step Functions: start, follow, list, redrive and backfill pipeline executions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

import boto3
from botocore.exceptions import ClientError

from jobs.common.args import check_run_id
from jobs.common.errors import JobArgumentError
from medallion.aws.cloudformation import StackNotFoundError
from medallion.aws.stack import stack_outputs

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
STACK_OUTPUT = "PipelineStateMachineArn"
# RedriveExecution refusals that mean "start a new execution instead".
REDRIVE_REFUSED = frozenset(
    {
        "ExecutionNotRedrivable",
        "ExecutionLimitExceeded",
        "InvalidAction",
        "NotImplemented",
        "UnknownOperationException",
        "ValidationException",
    }
)


class StepFunctionsError(RuntimeError):
    """A pipeline operation on Step Functions could not be done."""


class StateMachineNotFound(StepFunctionsError):
    """No state machine ARN given and none found in the stack outputs."""


class ExecutionNotFound(StepFunctionsError):
    """The execution named does not exist."""


@dataclass(frozen=True)
class RunOptions:
    """The execution input: the options every job receives as arguments.

    Empty strings mean "not set" (Glue job arguments cannot be null).
    """

    run_id: str = ""
    datasets: str = ""
    observation_end: str = ""
    full_refresh: bool = False

    def to_input(self) -> dict[str, Any]:
        """The execution input JSON object; unset options are left to the definition's defaults."""
        payload: dict[str, Any] = {"full_refresh": "true" if self.full_refresh else "false"}
        for key in ("run_id", "datasets", "observation_end"):
            value = getattr(self, key)
            if value:
                payload[key] = value
        return payload


@dataclass(frozen=True)
class StepEvent:
    """A state entered or left, from the execution history."""

    kind: str  # entered | exited | failed | succeeded | execution_failed | ...
    state: str
    state_type: str
    timestamp: datetime
    detail: dict[str, Any] = field(default_factory=dict)


def _session(session: boto3.Session | None) -> boto3.Session:
    return session or boto3.Session()


def client(session: boto3.Session | None = None, endpoint_url: str | None = None) -> Any:
    """A Step Functions client from the session (default: a new default session)."""
    return _session(session).client("stepfunctions", endpoint_url=endpoint_url)


def state_machine_arn(
    environment: str,
    explicit: str | None = None,
    session: boto3.Session | None = None,
    endpoint_url: str | None = None,
) -> str:
    """The pipeline's state machine: ``explicit`` when given, else the stack output.

    Parameters
    ----------
    environment
        dev, prod, ...: the stack ``medallion-<environment>``.
    explicit
        An ARN given on the command line.
    session
        boto3 session; default session when None.
    endpoint_url
        Another CloudFormation endpoint (moto in tests).

    Raises
    ------
    StateMachineNotFound
        When the stack or its ``PipelineStateMachineArn`` output does not exist.
    """
    if explicit:
        return explicit
    try:
        outputs = stack_outputs(environment, session=session, endpoint_url=endpoint_url)
    except StackNotFoundError as exc:
        raise StateMachineNotFound(str(exc)) from exc
    if STACK_OUTPUT not in outputs:
        raise StateMachineNotFound(f"stack medallion-{environment} has no output {STACK_OUTPUT}")
    return outputs[STACK_OUTPUT]


def execution_name(run_id: str = "") -> str:
    """The execution name: the run id when given, else ``run-<UTC time>-<random>``.

    Execution names are the jobs' run ids: one rule for both, ``jobs.common.args``'s.

    Raises
    ------
    StepFunctionsError
        When the run id breaks the execution-name rule (it is refused, never rewritten).
    """
    if not run_id:
        return f"run-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    try:
        return check_run_id(run_id, "run id")
    except JobArgumentError as exc:
        raise StepFunctionsError(str(exc)) from None


def start(
    state_machine_arn: str,
    options: RunOptions,
    name: str | None = None,
    session: boto3.Session | None = None,
    sfn: Any = None,
) -> str:
    """Start one execution.

    Parameters
    ----------
    state_machine_arn
        The pipeline state machine.
    options
        The run options; the execution name is the run id when one is given.
    name
        The execution name; derived from the run id when None.
    session, sfn
        boto3 session, or a ready Step Functions client.

    Returns
    -------
    str
        The execution ARN.
    """
    sfn = sfn or client(session)
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=name or execution_name(options.run_id),
        input=json.dumps(options.to_input()),
    )
    return str(response["executionArn"])


def execution_arn(state_machine_arn: str, execution: str) -> str:
    """An execution's ARN from its ARN or its name (names are unique per state machine)."""
    if execution.startswith("arn:"):
        return execution
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1)
    return f"{prefix}:{execution}"


def describe(execution_arn: str, session: boto3.Session | None = None, sfn: Any = None) -> dict:
    """DescribeExecution, without the response metadata."""
    sfn = sfn or client(session)
    try:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        raise ExecutionNotFound(f"{execution_arn}: {exc}") from exc
    described.pop("ResponseMetadata", None)
    return described


def list_executions(
    state_machine_arn: str,
    status: str | None = None,
    limit: int = 20,
    session: boto3.Session | None = None,
    sfn: Any = None,
) -> list[dict[str, Any]]:
    """The most recent executions, newest first."""
    sfn = sfn or client(session)
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "maxResults": limit}
    if status:
        kwargs["statusFilter"] = status
    executions: list[dict[str, Any]] = sfn.list_executions(**kwargs)["executions"]
    return sorted(executions, key=lambda e: e["startDate"], reverse=True)[:limit]


def history(execution_arn: str, session: boto3.Session | None = None, sfn: Any = None) -> list:
    """Every history event of an execution, oldest first."""
    sfn = sfn or client(session)
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def step_events(events: list[dict[str, Any]]) -> Iterator[StepEvent]:
    """The state transitions of a history: which state was entered or left, and when."""
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails", {})
            name, state_type = details.get("name", ""), kind[: -len("StateEntered")]
            entered = {"input": details["input"]} if "input" in details else {}
            yield StepEvent("entered", name, state_type, event["timestamp"], entered)
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails", {})
            yield StepEvent(
                "exited", details.get("name", ""), kind[: -len("StateExited")], event["timestamp"]
            )
        elif kind in ("ParallelStateFailed", "ParallelStateAborted"):
            # A branch failed: the Parallel state and its branches' states end here.
            yield StepEvent("parallel_ended", "", "Parallel", event["timestamp"])
        elif kind == "TaskFailed":
            details = event.get("taskFailedEventDetails", {})
            yield StepEvent("task_failed", "", "Task", event["timestamp"], dict(details))
        elif kind.startswith("Execution") and kind != "ExecutionStarted":
            detail: dict[str, Any] = next(
                (v for k, v in event.items() if k.endswith("EventDetails")), {}
            )
            yield StepEvent(kind, "", "Execution", event["timestamp"], dict(detail or {}))


class Changes(Protocol):
    """Something that wakes a waiter when an execution may have moved on (a local run's
    :data:`medallion.local.changes.CHANGES`); on AWS nothing does, and :func:`follow` polls."""

    def count(self) -> int:
        """How many changes there have been."""
        ...

    def wait_past(self, seen: int, timeout: float) -> bool:
        """Block until the count is past ``seen`` or ``timeout`` seconds passed."""
        ...


@dataclass(frozen=True)
class Followed:
    """How an execution ended: its last DescribeExecution and its whole history."""

    described: dict[str, Any]
    history: list[dict[str, Any]]


def follow(
    execution_arn: str,
    on_event: Callable[[StepEvent], None] | None,
    poll_seconds: float = 2.0,
    timeout: float | None = None,
    session: boto3.Session | None = None,
    sfn: Any = None,
    history_seconds: float = 1.0,
    changes: Changes | None = None,
) -> Followed:
    """Report each new state transition until the execution ends.

    The status is looked at every ``poll_seconds`` (sooner when ``changes`` signals one), the
    history (read whole each time, so its cost grows with the run) at most every
    ``history_seconds`` and once more at the end; with no ``on_event``, only at the end.

    Returns
    -------
    Followed
        The final DescribeExecution and the history read after it.
    """
    sfn = sfn or client(session)
    report = on_event or (lambda _: None)
    seen = 0
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    read_at = started - history_seconds
    while True:
        changed = changes.count() if changes else 0  # before the look (changes.py)
        described = describe(execution_arn, sfn=sfn)
        terminal = described["status"] in TERMINAL
        due = on_event is not None and time.monotonic() - read_at >= history_seconds
        if terminal or due:
            read_at = time.monotonic()
            events = list(step_events(history(execution_arn, sfn=sfn)))
            for event in events[seen:]:
                report(event)
            seen = len(events)
        if terminal:
            # The last events may land after the status changes; one more read gets them.
            raw = history(execution_arn, sfn=sfn)
            for event in list(step_events(raw))[seen:]:
                report(event)
            return Followed(described, raw)
        if deadline is not None and time.monotonic() > deadline:
            raise StepFunctionsError(
                f"{execution_arn} still {described['status']} after {timeout} s"
            )
        if changes:
            changes.wait_past(changed, poll_seconds)
        else:
            time.sleep(poll_seconds)


def rerun(execution_arn: str, session: boto3.Session | None = None, sfn: Any = None) -> str:
    """Redrive a failed execution when Step Functions allows, else start one with its input.

    Redrive restarts from the failed state, so the jobs that succeeded are not run again.
    Executions that cannot be redriven (succeeded, older than 14 days, not redrivable) get a new
    execution with the same input and a new name.

    Returns
    -------
    str
        The ARN of the execution now running (the same ARN after a redrive).
    """
    sfn = sfn or client(session)
    described = describe(execution_arn, sfn=sfn)
    if described["status"] in {"FAILED", "TIMED_OUT", "ABORTED"}:
        try:
            sfn.redrive_execution(executionArn=execution_arn)
            return execution_arn
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code", "") not in REDRIVE_REFUSED:
                raise
        except NotImplementedError:
            pass  # moto (tests, local) has no redrive: fall back like AWS would have to
    base = described.get("name", "run")
    name = f"{base[:50]}-rerun-{datetime.now():%Y%m%dT%H%M%S}"[:80]
    response = sfn.start_execution(
        stateMachineArn=described["stateMachineArn"], name=name, input=described.get("input", "{}")
    )
    return str(response["executionArn"])


def backfill_options(first: date, last: date, datasets: str = "") -> RunOptions:
    """The options of a backfill over ``first``..``last``: one full refresh as of ``last``.

    One execution, not one per day: the jobs have no lower date bound (bronze takes whatever
    landing holds, silver rewrites the partitions it touches, gold recomputes every mart from all
    of silver), so per-day executions would each overwrite gold and end where a single full
    refresh with ``observation_end = last`` ends, at N times the cost. ``first`` names the run.
    """
    if last < first:
        raise StepFunctionsError(f"--to {last} is before --from {first}")
    return RunOptions(
        run_id=f"backfill-{first.isoformat()}-to-{last.isoformat()}",
        datasets=datasets,
        observation_end=last.isoformat(),
        full_refresh=True,
    )


def backfill(
    state_machine_arn: str,
    first: date,
    last: date,
    datasets: str = "",
    session: boto3.Session | None = None,
    sfn: Any = None,
) -> str:
    """Start the one execution that backfills ``first``..``last`` (see :func:`backfill_options`).

    Returns
    -------
    str
        The execution ARN.
    """
    options = backfill_options(first, last, datasets)
    name = f"{options.run_id}-{datetime.now():%Y%m%dT%H%M%S}"
    return start(state_machine_arn, options, name=name, session=session, sfn=sfn)


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
        return state_machine_arn(
            self.env, self.explicit_arn, session=self.session, endpoint_url=self.endpoint_url
        )


def target(env: str, arn: str | None, region: str | None, endpoint_url: str | None) -> Target:
    """The client and state machine an environment (or an explicit ARN) names."""
    session = boto3.Session(region_name=region) if region else boto3.Session()
    return Target(client(session, endpoint_url), session, endpoint_url, env, arn)


def executions(
    target: Target, execution: str | None = None, status: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """One execution described (by ARN or name), or the latest ones, in a status if given."""
    if execution:
        return [describe(execution_arn(target.state_machine_arn, execution), sfn=target.sfn)]
    return list_executions(target.state_machine_arn, status=status, limit=limit, sfn=target.sfn)
