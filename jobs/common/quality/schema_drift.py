"""The source-columns rule: each file's columns (as bronze recorded them) against the contract's.

``<dataset>_schema_drift`` names the columns that appeared and disappeared and their files, and
warns (``on_schema_change: warn``) or fails the quality gate (``fail``). Pure Python: it reads
the bronze manifest's column lists, not a DataFrame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jobs.common.aliases import named_as_contract
from jobs.common.contracts import Contract
from jobs.common.quality.verdicts import Verdict, status


def schema_drift_rule_id(contract: Contract) -> str:
    return f"{contract.dataset}_schema_drift"


@dataclass(frozen=True)
class SchemaDrift:
    """Columns that appeared (the files bring them, the contract does not name them) or
    disappeared (the contract names them, the files lack them), each with the files, out of
    ``files`` files compared."""

    files: int
    appeared: dict[str, list[str]]
    disappeared: dict[str, list[str]]

    @property
    def drifted_files(self) -> int:
        return len({f for files in (*self.appeared.values(), *self.disappeared.values())
                    for f in files})  # fmt: skip

    def summary(self) -> dict[str, dict[str, list[str]]]:
        return {"appeared": self.appeared, "disappeared": self.disappeared}


def schema_drift(contract: Contract, columns: Mapping[str, list[str]]) -> SchemaDrift:
    """Compare each file's own columns (``columns``: file -> names, from the bronze manifest)
    with the contract's source columns: by name in any case for CSV (bronze maps headers so),
    by exact name for JSON keys. A database source's watermark column (the column its
    incremental extraction reads to know where it stopped, such as ``row_id``) is expected
    whether or not the contract names it: it is the extraction's, not drift. A column under
    one of its aliases (``aliases:``, another name files give it) is the column, not drift."""

    def key(name: str) -> str:
        return name if contract.format == "jsonl" else name.lower()

    appeared: dict[str, list[str]] = {}
    disappeared: dict[str, list[str]] = {}
    spelled = {key(name): name for name in contract.source_columns}
    watermark = contract.database.watermark_column if contract.database else None
    expected = set(spelled) | ({key(watermark)} if watermark else set())
    exact = contract.format == "jsonl"
    for path in sorted(columns):
        named = named_as_contract(columns[path], contract.source_aliases, exact)
        names = {key(name): name for name in reversed(named)}
        for found in sorted(set(names) - expected):
            appeared.setdefault(names[found], []).append(path)
        for lacking in sorted(set(spelled) - set(names)):
            disappeared.setdefault(spelled[lacking], []).append(path)
    return SchemaDrift(len(columns), appeared, disappeared)


def _listed(changes: dict[str, list[str]], most: int = 3) -> str:
    """``Notes (a.csv, b.csv), Channel (c.csv and 4 more)``: file names, not whole paths."""
    shown = []
    for column, files in changes.items():
        names = ", ".join(f.rsplit("/", 1)[-1] for f in files[:most])
        more = f" and {len(files) - most} more" if len(files) > most else ""
        shown.append(f"{column} ({names}{more})")
    return ", ".join(shown)


def schema_drift_verdict(contract: Contract, drift: SchemaDrift) -> Verdict:
    """Warn (``on_schema_change: warn``) or fail (``fail``) when any file's columns differ."""
    severity = "error" if contract.on_schema_change == "fail" else "warn"
    ok = not drift.appeared and not drift.disappeared
    parts = []
    if drift.appeared:
        parts.append(f"columns appeared: {_listed(drift.appeared)}")
    if drift.disappeared:
        parts.append(f"columns disappeared: {_listed(drift.disappeared)}")
    message = "; ".join(parts) if parts else f"all {drift.files} files have the contract's columns"
    outcome = status(ok, severity)
    if not drift.files:
        # Batches bronze ingested before it recorded each file's columns.
        outcome, message = "skipped", "skipped: no file of the batches has its columns recorded"
    target = ",".join([*drift.appeared, *drift.disappeared])
    return Verdict(
        schema_drift_rule_id(contract), "schema_drift", "dataset", severity, target, drift.files,
        drift.drifted_files, None, outcome, message,
    )  # fmt: skip
