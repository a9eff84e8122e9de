"""What bronze tells the run's on-call person: the landing files it did not read.

A file bronze refuses (an Excel workbook, plain text named ``.gz``: ``jobs.bronze.sniff``) does
not fail the run, whose other files are good, but none of its lines reaches the lake. The
ingestion manifest records it with the reason, and ``medallion run`` prints it; on AWS nobody
would see either. So every bronze run writes ``_meta/notices/<run id>/bronze.json``, and the
state machine reads it once the views are made: when it names a file, the run ends SUCCEEDED
after one email to the alert topic saying which files were not read, why, and what to do
(statemachine/README.md).

The notice is small whatever the landing holds (a Step Functions state's data is at most
256 KiB): it counts every file refused and names the first ``NAMED_FILES``; the manifest has
every one. The files are those of all the run's attempts (``ingest.refused_in_run``): a file an
attempt refused is not new to the next attempt, which must still tell it.
"""

from __future__ import annotations

import json
from typing import Any

from jobs.common.lake import LakeFiles, LakePaths

NAMED_FILES = 20
"""Files a notice names, with their reasons: a few hundred bytes each."""


def notice(run_id: str, datasets: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The run's notice, from its per-dataset summaries (``refused``: path to reason):
    ``refused`` (how many files were not read), ``headline`` (ASCII, an email's subject),
    ``text`` (two lines per file named) and ``files`` (the first ``NAMED_FILES``)."""
    refused = [
        {"dataset": dataset, "path": path, "reason": reason}
        for dataset, summary in sorted(datasets.items())
        for path, reason in sorted(summary.get("refused", {}).items())
    ]
    count, files = len(refused), refused[:NAMED_FILES]
    lines = [f"{f['dataset']}: {f['path']}\n  {f['reason']}" for f in files]
    if count > len(files):
        lines.append(
            f"... and {count - len(files)} more: the ingestion manifest "
            "(_meta/ingested/<dataset>/) records every file with its reason"
        )
    plural = "" if count == 1 else "s"
    return {
        "run_id": run_id,
        "refused": count,
        "headline": f"{count} landing file{plural} not read" if count else "every file read",
        "text": "\n".join(lines),
        "files": files,
    }


def write_notice(
    files: LakeFiles, lake: LakePaths, run_id: str, datasets: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Write the run's notice and return it: every run writes one, a run that refused nothing
    too, so the state machine always finds the run's own (never an older run's)."""
    written = notice(run_id, datasets)
    files.write_text(
        lake.bronze_notice(run_id), json.dumps(written, indent=1, sort_keys=True) + "\n"
    )
    return written
