"""Which bronze batches a silver run takes, and what bronze recorded of their files."""

from __future__ import annotations

from typing import Any

from jobs.common.lake import LakeFiles, LakePaths


def ingested_batches(manifest: list[dict[str, Any]]) -> list[str]:
    """Bronze batches that hold rows, from the ingestion manifest, in order."""
    return sorted({m["run_id"] for m in manifest if m.get("rows", 0) > 0})


def published_batches(runs: list[dict[str, Any]]) -> set[str]:
    """Bronze batches some silver run published (from ``quality/runs``): a run whose quality
    gate failed published nothing, so the next run takes its batches again."""
    return {batch for run in runs if run.get("published") for batch in run.get("bronze_runs", [])}


def pending_batches(
    files: LakeFiles, lake: LakePaths, dataset: str, full_refresh: bool
) -> tuple[list[str] | None, list[dict[str, Any]]]:
    """The bronze batches not yet published to silver (all of them on a full refresh), None
    when bronze has none for the dataset; and the ingestion manifest they were read from."""
    manifest = files.read_json_lines(lake.ingest_manifest(dataset))
    ingested = ingested_batches(manifest)
    if not ingested:
        return None, manifest
    if full_refresh:
        return ingested, manifest
    done = published_batches(files.read_json_lines(f"{lake.quality_runs}/dataset={dataset}"))
    return [b for b in ingested if b not in done], manifest


def batch_paths(
    lake: LakePaths, dataset: str, manifest: list[dict[str, Any]], batches: list[str]
) -> list[str] | None:
    """The bronze directories of the batches (``<bronze>/ingest_date=<day>/run_id=<batch>``, as
    bronze writes them), so silver reads them alone: its cost follows the batches, not bronze's
    history, and their schemas can be merged (a batch may bring a column older ones lack).
    None when an entry predates ``ingested_at`` in the manifest: then bronze is read whole."""
    wanted = [m for m in manifest if m["run_id"] in set(batches) and m.get("rows", 0) > 0]
    if any("ingested_at" not in m for m in wanted):
        return None
    return sorted(
        {
            f"{lake.bronze(dataset)}/ingest_date={m['ingested_at'][:10]}/run_id={m['run_id']}"
            for m in wanted
        }
    )


def batch_file_columns(manifest: list[dict[str, Any]], batches: list[str]) -> dict[str, list[str]]:
    """Each file's columns as bronze recorded them (header or JSON keys), for the batches' files
    that hold rows; files from before bronze recorded columns are left out."""
    return {
        entry["path"]: entry["columns"]
        for entry in manifest
        if entry["run_id"] in batches and entry.get("rows", 0) > 0 and "columns" in entry
    }
