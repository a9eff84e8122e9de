"""Following a stack operation: progress is reported, and a failure names the resource and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from medallion.aws import cloudformation as cfn

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _event(n: int, logical_id: str, status: str, reason: str = "") -> cfn.StackEvent:
    return cfn.StackEvent(
        f"e{n}", T0 + timedelta(seconds=n), logical_id, "AWS::S3::Bucket", status, reason
    )


def _fake(
    monkeypatch: pytest.MonkeyPatch, statuses: list[str], events: list[list[cfn.StackEvent]]
) -> None:
    polls = iter(zip(statuses, events, strict=True))
    current: dict[str, Any] = {}

    def describe_stack(name: str, *args: Any) -> cfn.Stack:
        current["status"], current["events"] = next(polls)
        return cfn.Stack("medallion-dev", "id", current["status"], "")

    monkeypatch.setattr(cfn, "describe_stack", describe_stack)
    monkeypatch.setattr(cfn, "stack_events", lambda *args: current["events"])


def test_wait_reports_each_new_event_once_and_returns_the_final_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = [_event(1, "medallion-dev", "UPDATE_IN_PROGRESS")]
    second = [*first, _event(2, "LakeBucket", "UPDATE_COMPLETE")]
    _fake(monkeypatch, ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"], [first, second])
    seen: list[str] = []
    statuses: list[str] = []
    stack = cfn.wait_for_stack(
        "id", on_event=lambda e: seen.append(e.event_id), on_status=statuses.append, poll_seconds=0
    )
    assert stack.status == "UPDATE_COMPLETE"
    assert seen == ["e1", "e2"]
    assert statuses == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]


def test_a_rollback_names_the_first_resource_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    events = [
        _event(1, "medallion-dev", "CREATE_IN_PROGRESS"),
        _event(2, "LakeBucket", "CREATE_FAILED", "medallion-dev-lake-1 already exists"),
        _event(3, "ScriptsBucket", "CREATE_FAILED", "Resource creation cancelled"),
        _event(4, "medallion-dev", "ROLLBACK_COMPLETE"),
    ]
    _fake(monkeypatch, ["ROLLBACK_COMPLETE"], [events])
    with pytest.raises(cfn.StackOperationError) as failure:
        cfn.wait_for_stack("id", poll_seconds=0)
    assert str(failure.value) == (
        "medallion-dev ended ROLLBACK_COMPLETE: LakeBucket (AWS::S3::Bucket): "
        "medallion-dev-lake-1 already exists"
    )


def test_events_before_the_operation_are_not_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    old = _event(1, "LakeBucket", "CREATE_FAILED", "an earlier failure")
    new = _event(5, "medallion-dev", "UPDATE_COMPLETE")
    _fake(monkeypatch, ["UPDATE_COMPLETE"], [[old, new]])
    seen: list[str] = []
    cfn.wait_for_stack(
        "id",
        on_event=lambda e: seen.append(e.event_id),
        since=T0 + timedelta(seconds=3),
        poll_seconds=0,
    )
    assert seen == ["e5"]
