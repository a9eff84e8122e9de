"""Following a pipeline execution on the terminal: states as they pass, then a summary table."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from medallion.aws import stepfunctions as sfn_ops
from medallion.aws.stepfunctions import StepEvent
from medallion.local import ledger
from medallion.local.pipeline import LocalRun

JOB_STATES = {"Bronze job": "bronze", "Silver job": "silver", "Gold job": "gold"}
_QUIET_TYPES = {"Pass", "Choice", "Wait"}


def _seconds(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


class ProgressPrinter:
    """Prints each state as the execution enters and leaves it, with the time since the start."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started: datetime | None = None
        self.entered: dict[str, datetime] = {}

    def __call__(self, event: StepEvent) -> None:
        """Print one event."""
        if self.started is None:
            self.started = event.timestamp
        clock = f"[dim]{_seconds(self.started, event.timestamp):7.1f}s[/dim]"
        name = escape(event.state)
        quiet = event.state_type in _QUIET_TYPES
        if event.kind == "entered":
            self.entered[event.state] = event.timestamp
            style = "dim" if quiet else "bold"
            self.console.print(f"{clock} [cyan]>[/cyan] [{style}]{name}[/{style}]")
        elif event.kind == "exited":
            took = _seconds(self.entered.get(event.state, event.timestamp), event.timestamp)
            style = "dim" if quiet else "green"
            self.console.print(f"{clock} [{style}]< {name}[/{style}] [dim]({took:.1f} s)[/dim]")
        elif event.kind == "task_failed":
            error = escape(str(event.detail.get("error", "")))
            self.console.print(f"{clock} [red]! task failed: {error}[/red]")
        elif event.kind == "ExecutionSucceeded":
            self.console.print(f"{clock} [bold green]execution SUCCEEDED[/bold green]")
        elif event.kind.startswith("Execution"):
            status = event.kind.removeprefix("Execution").upper()
            error = escape(str(event.detail.get("error", "")))
            cause = escape(str(event.detail.get("cause", "")))
            self.console.print(f"{clock} [bold red]execution {status}[/bold red] {error}: {cause}")


@dataclass
class StateRow:
    """One line of the summary table."""

    state: str
    state_type: str
    status: str
    seconds: float
    entries: int


def state_rows(events: Sequence[StepEvent], failed_state: str | None) -> list[StateRow]:
    """Per state, in order of first entry: status, total time inside and how often entered.

    A state left without an exit event (a caught failure) ends, ENDED, when the next state
    begins; but inside a Parallel state the branches' states run side by side, so none ends
    another: they end at their own exits, or with the Parallel state.
    """
    rows: dict[str, StateRow] = {}
    open_since: dict[str, datetime] = {}
    last_time: datetime | None = None

    def close(states: list[str], at: datetime, status: str) -> None:
        for state in states:
            rows[state].seconds += _seconds(open_since.pop(state), at)
            rows[state].status = status

    for event in events:
        last_time = event.timestamp
        parallel = [s for s in open_since if rows[s].state_type == "Parallel"]
        if event.kind == "entered":
            if not parallel:
                close(list(open_since), event.timestamp, "ENDED")
            row = rows.setdefault(
                event.state, StateRow(event.state, event.state_type, "RUNNING", 0.0, 0)
            )
            row.entries += 1
            open_since[event.state] = event.timestamp
        elif event.kind == "exited" and event.state in open_since:
            close([event.state], event.timestamp, "SUCCEEDED")
            if rows[event.state].state_type == "Parallel":  # its branches' unfinished states
                close(list(open_since), event.timestamp, "ENDED")
        elif event.kind == "parallel_ended" and parallel:
            close(list(open_since), event.timestamp, "ENDED")
    for state, since in open_since.items():
        if last_time is not None:
            rows[state].seconds += _seconds(since, last_time)
        rows[state].status = "FAILED" if rows[state].state_type == "Fail" else "ENDED"
    if failed_state and failed_state in rows:
        rows[failed_state].status = "FAILED"
    return list(rows.values())


def _sum(values: Any) -> int | None:
    numbers = [int(v) for v in values if isinstance(v, int | float)]
    return sum(numbers) if numbers else None


def layer_rows(layer: str, summary: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """Rows in and out of one layer's job, from its ``MEDALLION_SUMMARY``.

    bronze: landing lines read, bronze rows written; silver: bronze rows read, silver rows
    published; gold: the rows of the marts written (in is left empty: gold reads all of silver).
    """
    datasets = summary.get("datasets")
    if layer == "bronze" and isinstance(datasets, Mapping):
        rows = _sum(d.get("rows") for d in datasets.values() if isinstance(d, Mapping))
        return rows, rows
    if layer == "silver" and isinstance(datasets, Mapping):
        values = [d for d in datasets.values() if isinstance(d, Mapping)]
        return _sum(d.get("rows_in") for d in values), _sum(d.get("rows_silver") for d in values)
    marts = summary.get("marts")
    if layer == "gold" and isinstance(marts, Mapping):
        return None, _sum(marts.values())
    return None, None


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def summary_table(
    events: Sequence[StepEvent],
    summaries: Mapping[str, Mapping[str, Any]],
    failed_state: str | None = None,
    quiet: bool = True,
) -> Table:
    """The run's summary: state, status, duration, rows in and out of each layer's job.

    Parameters
    ----------
    events
        The execution's state transitions.
    summaries
        ``MEDALLION_SUMMARY`` of each layer's job run, by layer (local runs only).
    failed_state
        The state the alert names, marked FAILED.
    quiet
        Leave out Pass, Choice and Wait states that succeeded.
    """
    table = Table(title="Pipeline run", title_justify="left")
    table.add_column("state")
    table.add_column("status")
    table.add_column("duration", justify="right")
    table.add_column("rows in", justify="right")
    table.add_column("rows out", justify="right")
    colours = {"SUCCEEDED": "green", "FAILED": "red", "ENDED": "yellow", "RUNNING": "yellow"}
    for row in state_rows(events, failed_state):
        if quiet and row.state_type in _QUIET_TYPES and row.status == "SUCCEEDED":
            continue
        rows_in, rows_out = (None, None)
        layer = JOB_STATES.get(row.state)
        if layer and layer in summaries:
            rows_in, rows_out = layer_rows(layer, summaries[layer])
        polls = f" x{row.entries}" if row.entries > 1 else ""
        colour = colours.get(row.status, "white")
        table.add_row(
            escape(row.state) + polls,
            f"[{colour}]{row.status}[/{colour}]",
            f"{row.seconds:.1f} s",
            _count(rows_in),
            _count(rows_out),
        )
    return table


def empty_marts(summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per gold mart written with no rows, saying why (its view answers, empty)."""
    empty = summaries.get("gold", {}).get("empty")
    if not isinstance(empty, Mapping):
        return []
    return [f"{mart} is empty: {reason}" for mart, reason in sorted(empty.items())]


def gold_mode_note(summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line when gold rebuilt every mart from the whole of silver, saying why (a full
    refresh costs with the history; an incremental run does not)."""
    gold = summaries.get("gold", {})
    if gold.get("mode") != "full":
        return []
    because = gold.get("full_because")
    return ["rebuilt every mart from the whole of silver" + (f": {because}" if because else "")]


def value_model_notes(summaries: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line when gold's customer-value models are not both usable, with each reason (the
    other marts are published either way; quality_results holds the warning)."""
    value = summaries.get("gold", {}).get("customer_value")
    if not isinstance(value, Mapping) or value.get("status") in (None, "ok"):
        return []
    reasons = value.get("reasons") or {}
    why = "; ".join(f"{model}: {reason}" for model, reason in sorted(reasons.items()))
    return [f"customer value model {value['status']}" + (f" ({why})" if why else "")]


def history_json(history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The execution history with timestamps as ISO 8601 text, for ``--json``."""
    out = []
    for event in history:
        item = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in event.items()}
        out.append(item)
    return out


NOTIFY_LEFT_OUT = "Notify left out"  # statemachine/pipeline.asl.json


def left_out_note(events: Sequence[StepEvent]) -> str | None:
    """What a run's email of what bronze left out said, in one line (from the input of the
    state that sends it), or None when the run sent none."""
    for event in reversed(events):
        if event.kind == "entered" and event.state == NOTIFY_LEFT_OUT:
            try:
                headline = json.loads(event.detail.get("input") or "")["bronze"]["notice"][
                    "headline"
                ]
            except (ValueError, KeyError, TypeError):
                headline = "something that landed"
            return (
                f"left out of the lake: {headline}; the alert email says what, why and what "
                "to do (_meta/notices/<run id>/bronze.json)"
            )
    return None


def print_left_out(console: Console, events: Sequence[StepEvent]) -> None:
    """After a run's summary, :func:`left_out_note` when the run sent that email."""
    if note := left_out_note(events):
        console.print(f"[yellow]bronze:[/yellow] {escape(note)}")


def follow(console: Console, sfn: Any, execution_arn: str, poll_seconds: float = 5.0) -> str:
    """Follow an execution like ``medallion run`` does; returns its final status."""
    printer = ProgressPrinter(console)
    events: list[StepEvent] = []

    def on_event(event: StepEvent) -> None:
        events.append(event)
        printer(event)

    described = sfn_ops.follow(
        execution_arn, on_event, poll_seconds=poll_seconds, sfn=sfn
    ).described
    console.print(summary_table(events, {}, None))
    print_left_out(console, events)
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
        table.add_column(column, overflow="fold")
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


def run_json(outcome: LocalRun) -> dict[str, Any]:
    """A local run as ``medallion run --json`` prints it."""
    return {
        "execution_arn": outcome.execution_arn,
        "status": outcome.status,
        "error": outcome.error,
        "cause": outcome.cause,
        "failed_state": outcome.failed_state,
        "summaries": outcome.summaries,
        "alerts": [str(p) for p in outcome.alerts],
        "history": history_json(outcome.history),
    }


def alert_notes(alerts: Sequence[Path]) -> list[str]:
    """One line per alert that no SMTP server took: where its copy is."""
    notes = []
    for path in alerts:
        try:
            kept = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not kept.get("delivered", True):
            smtp = kept.get("smtp")
            notes.append(f"alert not delivered (no SMTP server at {smtp}); its copy: {path}")
    return notes


def print_run(console: Console, outcome: LocalRun, lake: Path) -> bool:
    """The summary of a local run, its empty marts, then its ledger or why it failed.

    Returns
    -------
    bool
        Whether the run succeeded and its conservation ledger balances.
    """
    console.print(summary_table(outcome.events, outcome.summaries, outcome.failed_state))
    bronze = outcome.summaries.get("bronze", {})
    for dataset in bronze.get("absent", []):
        console.print(f"[yellow]bronze:[/yellow] no landing files for {escape(dataset)}; skipped")
    for ingested in bronze.get("datasets", {}).values():
        for path, reason in ingested.get("refused", {}).items():
            console.print(f"[yellow]bronze:[/yellow] {escape(path)} not read: {escape(reason)}")
        for path, count in ingested.get("spanning", {}).items():
            console.print(
                f"bronze: {escape(path)}: {count} record(s) whose quoted field holds a line "
                "break, each read as one row"
            )
    for line in gold_mode_note(outcome.summaries):
        console.print(f"gold: {escape(line)}")
    for line in [*empty_marts(outcome.summaries), *value_model_notes(outcome.summaries)]:
        console.print(f"[yellow]gold:[/yellow] {escape(line)}")
    failed = outcome.status != "SUCCEEDED"
    if failed:
        console.print(
            f"[bold red]{outcome.status}[/bold red] at {escape(str(outcome.failed_state))}: "
            f"{escape(outcome.error)}: {escape(outcome.cause)}"
        )
        console.print(f"job logs: {lake / '_meta' / 'logs'}")
    else:
        print_left_out(console, outcome.events)
    # Where an email no SMTP server took is kept: the failure's, or the left-out one's.
    for line in alert_notes(outcome.alerts):
        console.print(escape(line))
    if failed:
        return False
    run_id = (outcome.output or {}).get("options", {}).get("run_id")
    if not ledger.render(str(lake), run_id=run_id, console=console):
        console.print("[bold red]the conservation ledger does not balance[/bold red]")
        return False
    return True
