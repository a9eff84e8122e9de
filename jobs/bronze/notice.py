"""What bronze tells the run's on-call person: what landed and is not in the lake.

Two things do not fail a bronze run but leave data out of the lake, and nobody watches a job's
log on AWS:

- a landing file bronze refuses (an Excel workbook, plain text named ``.gz``:
  ``jobs.bronze.sniff``), whose lines are not read; the ingestion manifest records it;
- rows a source database committed late, behind a watermark an earlier run had read past, and
  not extracted (``jobs.bronze.extract``: the dataset's ``risk``).

So every bronze run writes ``_meta/notices/<run id>/bronze.json``, and the state machine reads
it once the views are made: when it counts anything, the run ends SUCCEEDED after one email to
the alert topic with the notice's headline and text: what, why, and what to do
(statemachine/README.md).

The notice is small whatever the landing holds (a Step Functions state's data is at most
256 KiB): it counts every file refused and names the first ``NAMED_FILES``; the manifest has
every one. It tells what all the run's attempts left out: a file an attempt refused is not new
to the next attempt, which finds it in the manifest (``ingest.refused_in_run``); late rows an
attempt found are not found again by the next (its check compares with the counts the first
stored), so they are kept from the run's earlier notice.
"""

from __future__ import annotations

import json
from typing import Any

from jobs.common.lake import LakeFiles, LakePaths

NAMED_FILES = 20
"""Files a notice names, with their reasons: a few hundred bytes each."""

FILES_TODO = (
    "What to do: fix each file as its reason says and drop it in landing again (a new name, or "
    "the same name once it changed): the next run reads it. A file left as it is is not read "
    "again."
)
LATE_TODO = (
    "What to do: run the dataset once with mode: snapshot to take them, and widen its "
    "overlap_minutes (or overlap_ids) past the longest transaction that writes the table "
    "(docs/database-sources.md, Rows committed late)."
)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def notice(
    run_id: str, datasets: dict[str, dict[str, Any]], earlier: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The run's notice, from its per-dataset summaries (``refused``: path to reason; ``risk``:
    a database's late rows) and the run's ``earlier`` notice: ``count`` (what it tells, 0 when
    nothing), ``refused`` and ``late_sources`` (how many of each), ``headline`` (ASCII, for an
    email's subject), ``text`` (the email's body), ``files`` (the first ``NAMED_FILES``
    refused) and ``late`` (one line per source)."""
    refused = [
        {"dataset": dataset, "path": path, "reason": reason}
        for dataset, summary in sorted(datasets.items())
        for path, reason in sorted(summary.get("refused", {}).items())
    ]
    late = sorted(
        {
            *(earlier or {}).get("late", []),
            *(
                f"{dataset}: {summary['risk']['message']}"
                for dataset, summary in datasets.items()
                if isinstance(summary.get("risk"), dict)
            ),
        }
    )
    files = refused[:NAMED_FILES]
    parts, sections = [], []
    if refused:
        parts.append(_plural(len(refused), "landing file") + " not read")
        named = [f"{f['dataset']}: {f['path']}\n  {f['reason']}" for f in files]
        if len(refused) > len(files):
            named.append(
                f"... and {len(refused) - len(files)} more: the ingestion manifest "
                "(_meta/ingested/<dataset>/) records every file with its reason"
            )
        sections.append(
            "Landing files not read: none of their lines is in the lake (the other files were "
            "loaded as usual).\n\n" + "\n".join(named) + "\n\n" + FILES_TODO
        )
    if late:
        parts.append(_plural(len(late), "source") + " with rows committed late")
        sections.append(
            "Rows a source database committed late, behind a watermark an earlier run had "
            "read past: not extracted, so not in the lake.\n\n"
            + "\n".join(late)
            + "\n\n"
            + LATE_TODO
        )
    return {
        "run_id": run_id,
        "count": len(refused) + len(late),
        "refused": len(refused),
        "late_sources": len(late),
        "headline": ", ".join(parts) or "nothing to tell",
        "text": "\n\n".join(sections),
        "files": files,
        "late": late,
    }


def write_notice(
    files: LakeFiles, lake: LakePaths, run_id: str, datasets: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Write the run's notice and return it: every run writes one, a run with nothing to tell
    too, so the state machine always finds the run's own (never an older run's)."""
    key = lake.bronze_notice(run_id)
    try:
        earlier = files.read_json(key)
    except (ValueError, OSError):
        # Cut short by a kill mid-write (a local file, whose checksum then fails too; S3 writes
        # it whole), as gold's state is read: its refused files are in the manifest all the
        # same; only late rows it alone named are lost.
        earlier = None
    written = notice(run_id, datasets, earlier)
    files.write_text(key, json.dumps(written, indent=1, sort_keys=True) + "\n")
    return written
