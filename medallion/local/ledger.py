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

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_silver + self.rows_quarantined + self.rows_duplicate


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def read_ledger(lake_root: str | Path, run_id: str | None = None) -> list[LedgerRow]:
    """Ledger rows from ``quality/runs`` of a local lake, oldest first; one run's if given."""
    rows = []
    for path in sorted(Path(lake_root, "quality", "runs").glob("dataset=*/run_id=*/summary.json")):
        for record in _json_lines(path):
            if run_id is not None and record["run_id"] != run_id:
                continue
            rows.append(
                LedgerRow(
                    run_id=record["run_id"],
                    dataset=record["dataset"],
                    rows_in=int(record["rows_in"]),
                    rows_silver=int(record["rows_silver"]),
                    rows_quarantined=int(record["rows_quarantined"]),
                    rows_duplicate=int(record["rows_duplicate"]),
                    rows_flagged=int(record.get("rows_flagged", 0)),
                    status=record["status"],
                    failed_rules=tuple(record.get("failed_rules", [])),
                )
            )
    return sorted(rows, key=lambda r: (r.run_id, r.dataset))


def landing_lines(lake_root: str | Path) -> dict[str, int]:
    """Data lines taken from landing per dataset, from the bronze ingestion manifest."""
    totals: dict[str, int] = {}
    for path in Path(lake_root, "_meta", "ingested").glob("*/*.json"):
        for entry in _json_lines(path):
            totals[path.parent.name] = totals.get(path.parent.name, 0) + int(entry["rows"])
    return totals


def render(
    lake_root: str | Path, run_id: str | None = None, console: Console | None = None
) -> bool:
    """Print the ledger table; returns whether every row balances."""
    console = console or Console()
    rows = read_ledger(lake_root, run_id)
    table = Table(title="Conservation ledger: bronze rows in = silver + quarantined + duplicates")
    for name in (
        "run",
        "dataset",
        "in",
        "silver",
        "quarantined",
        "duplicates",
        "flagged",
        "status",
        "balanced",
    ):
        table.add_column(
            name,
            justify="right"
            if name in {"in", "silver", "quarantined", "duplicates", "flagged"}
            else "left",
        )
    for row in rows:
        table.add_row(
            row.run_id,
            row.dataset,
            f"{row.rows_in:,}",
            f"{row.rows_silver:,}",
            f"{row.rows_quarantined:,}",
            f"{row.rows_duplicate:,}",
            f"{row.rows_flagged:,}",
            row.status,
            "yes" if row.balanced else "NO",
        )
    if not rows:
        console.print("No silver runs recorded yet in this lake.")
        return True
    console.print(table)
    for row in rows:
        for rule in row.failed_rules:
            console.print(f"[red]{row.run_id} {row.dataset} failed[/red] {rule}")
    return all(r.balanced for r in rows)
