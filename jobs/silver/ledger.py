"""Silver's quality records: each rule's result and the run's ledger, written to ``quality/``.

What a record holds is defined once, in ``jobs.common.records``; ``make_record`` refuses a key
the definition lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.quality import SchemaDrift, Verdict
from jobs.common.records import attempt_stamp, make_record


def now() -> str:
    """UTC now as the records write it: ``2024-01-31T09:15:02``."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat()


@dataclass(frozen=True)
class Outcome:
    """What one dataset's silver run did: its batches, counts, verdicts and writes."""

    batches: list[str]
    stats: dict[str, Any]
    verdicts: list[Verdict]
    written: dict[str, Any]
    failed: list[str]
    drift: SchemaDrift


def run_summary(
    run_id: str, dataset: str, outcome: Outcome, started_at: str, finished_at: str
) -> dict[str, Any]:
    """The ``quality_runs`` record: the ledger ``rows_in = rows_silver + rows_quarantined +
    rows_duplicate`` (``rows_duplicate_event`` of the duplicates removed by event id, the rest
    exact or per key), the status, the rules that failed or warned, what was written."""
    warned = [v.rule_id for v in outcome.verdicts if v.status == "warn"]
    status = "failed" if outcome.failed else ("warned" if warned else "passed")
    return make_record(
        "quality_runs",
        {
            "run_id": run_id,
            "dataset": dataset,
            "bronze_runs": outcome.batches,
            "rows_in": outcome.stats["rows_in"],
            "rows_silver": outcome.written["rows_silver"],
            "rows_quarantined": outcome.stats["quarantined"],
            "rows_duplicate": outcome.written["rows_duplicate"],
            "rows_duplicate_event": outcome.written.get("rows_duplicate_event", 0),
            "rows_flagged": outcome.stats["flagged"],
            "status": status,
            "published": not outcome.failed,
            "failed_rules": outcome.failed,
            "warned_rules": warned,
            "partitions_written": outcome.written["partitions"],
            "schema_drift": outcome.drift.summary(),
            "started_at": started_at,
            "finished_at": finished_at,
        },
    )


def write_records(
    files: LakeFiles,
    lake: LakePaths,
    run_id: str,
    dataset: str,
    verdicts: Sequence[Verdict],
    summary: dict[str, Any],
) -> None:
    """Write the rule results and the run summary, in files of this attempt's own: a re-run under
    the same run id adds its records next to the earlier attempts', it never replaces them."""
    evaluated_at = summary["finished_at"]
    attempt = attempt_stamp()
    files.write_json_lines(
        lake.quality_record("quality_results", dataset, run_id, attempt),
        [v.record(run_id, dataset, evaluated_at) for v in verdicts],
    )
    files.write_json_lines(lake.quality_record("quality_runs", dataset, run_id, attempt), [summary])
