"""The conservation ledger of a local lake: each bronze row is silver, quarantine or duplicate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class LedgerRow:
    """One dataset in one silver run."""

    run_id: str
    dataset: str
    rows_in: int
    rows_silver: int
    rows_quarantined: int
    rows_duplicate: int
    rows_flagged: int
    status: str
    failed_rules: tuple[str, ...]
    finished_at: str = ""
    # of rows_duplicate, the copies of stream events removed by event id
    rows_duplicate_event: int = 0

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_silver + self.rows_quarantined + self.rows_duplicate


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_ledger(lake_root: str | Path, run_id: str | None = None) -> list[LedgerRow]:
    """Ledger rows from ``quality/runs`` of a local lake, oldest first; one run's if given.

    The records are append-only: each attempt of a run id writes a file of its own
    (``summary-<attempt>.json``; ``summary.json`` from before). A row is the latest attempt of its
    run and dataset, as ``v_run_ledger`` shows it."""
    latest: dict[tuple[str, str], tuple[tuple[str, str], dict[str, Any]]] = {}
    runs = Path(lake_root, "quality", "runs")
    for path in runs.glob("dataset=*/run_id=*/summary*.json"):
        for record in _json_lines(path):
            if run_id is not None and record["run_id"] != run_id:
                continue
            key = (record["run_id"], record["dataset"])
            order = (str(record.get("finished_at") or ""), path.name)
            if key not in latest or order >= latest[key][0]:
                latest[key] = (order, record)
    rows = [_ledger_row(record) for _, record in latest.values()]
    return sorted(rows, key=lambda r: (r.run_id, r.dataset))


def _ledger_row(record: dict[str, Any]) -> LedgerRow:
    return LedgerRow(
        run_id=record["run_id"],
        dataset=record["dataset"],
        rows_in=int(record["rows_in"]),
        rows_silver=int(record["rows_silver"]),
        rows_quarantined=int(record["rows_quarantined"]),
        rows_duplicate=int(record["rows_duplicate"]),
        rows_flagged=int(record.get("rows_flagged", 0)),
        status=record["status"],
        failed_rules=tuple(record.get("failed_rules", [])),
        finished_at=str(record.get("finished_at") or ""),
        rows_duplicate_event=int(record.get("rows_duplicate_event") or 0),
    )


def landing_lines(lake_root: str | Path) -> dict[str, int]:
    """Data lines taken from landing per dataset, from the bronze ingestion manifest."""
    totals: dict[str, int] = {}
    for path in Path(lake_root, "_meta", "ingested").glob("*/*.json"):
        for entry in _json_lines(path):
            totals[path.parent.name] = totals.get(path.parent.name, 0) + int(entry["rows"])
    return totals


def latest_run(lake_root: str | Path) -> str | None:
    """The silver run that finished last in a local lake, None when there is none."""
    rows = read_ledger(lake_root)
    return max(rows, key=lambda r: (r.finished_at, r.run_id)).run_id if rows else None


def render(
    lake_root: str | Path, run_id: str | None = None, console: Console | None = None
) -> bool:
    """Print the ledger table (one run's when ``run_id`` is given); returns whether every row
    balances. A run that recorded nothing (nothing new arrived) says so and shows the latest
    run's ledger."""
    console = console or Console()
    rows = read_ledger(lake_root, run_id)
    if not rows and run_id is not None:
        latest = latest_run(lake_root)
        if latest is None:
            console.print(f"Nothing new arrived: run {run_id} recorded no silver run.")
            console.print("No silver runs recorded yet in this lake.")
            return True
        console.print(
            f"Nothing new arrived: run {run_id} recorded no silver run. "
            f"The latest ledger, of run {latest}:"
        )
        rows = read_ledger(lake_root, latest)
    if not rows:
        console.print("No silver runs recorded yet in this lake.")
        return True
    console.print(ledger_table(rows))
    for row in rows:
        for rule in row.failed_rules:
            console.print(f"[red]{row.run_id} {row.dataset} failed[/red] {rule}")
    return all(r.balanced for r in rows)


def ledger_table(rows: list[LedgerRow]) -> Table:
    """The conservation ledger of some rows as a table."""
    table = Table(title="Conservation ledger: bronze rows in = silver + quarantined + duplicates")
    numbers = ("in", "silver", "quarantined", "duplicates", "by event id", "flagged")
    for name in ("run", "dataset", *numbers, "status", "balanced"):
        table.add_column(name, justify="right" if name in numbers else "left")
    for row in rows:
        table.add_row(
            row.run_id,
            row.dataset,
            f"{row.rows_in:,}",
            f"{row.rows_silver:,}",
            f"{row.rows_quarantined:,}",
            f"{row.rows_duplicate:,}",
            f"{row.rows_duplicate_event:,}",
            f"{row.rows_flagged:,}",
            row.status,
            "yes" if row.balanced else "NO",
        )
    return table
