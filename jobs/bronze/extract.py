"""Bronze extraction of one database dataset: the rows past the watermark, as a bronze batch.

Order of writes, so that a run that dies anywhere loses nothing and a re-run takes the same
rows again: the batch's Parquet, then its manifest entry (``_meta/ingested``: from then on
silver sees the batch), then the watermark (``_meta/watermarks/<dataset>.json``). A batch
without a manifest entry is deleted by the next run (``remove_orphan_batches``); a batch
recorded whose watermark was not stored is read again in part by the next run, and silver's
key dedupe keeps one row per key.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.bronze.database import MICROSECONDS, database_rows, watermark_kind
from jobs.bronze.ingest import batch_path, next_batch_id, remove_orphan_batches
from jobs.bronze.transforms import add_ingest_metadata, extra_columns
from jobs.common.contracts import Contract
from jobs.common.entry import say
from jobs.common.jdbc import DRIVER_ERROR, Credentials, SourceError, read_sql, source_error
from jobs.common.jdbc_source import DatabaseSource, Watermark
from jobs.common.lake import LakeFiles, LakePaths


def watermark_path(lake: LakePaths, dataset: str) -> str:
    """Where a database dataset's watermark and late-row check are kept."""
    return f"{lake.root}/_meta/watermarks/{dataset}.json"


def extract_dataset(
    spark: SparkSession,
    files: LakeFiles,
    lake: LakePaths,
    contract: Contract,
    credentials: Credentials,
    run_id: str,
    ingested_at: datetime,
) -> dict[str, Any]:
    """Extract one database dataset into a new bronze batch and record it, then the watermark.

    Returns
    -------
    dict
        source, mode, rows, the batch, the watermark range read, and ``risk`` when rows
        appeared with a watermark older than the overlap window (they were not extracted).
    """
    source = contract.database
    assert source is not None
    dataset = contract.dataset
    manifest_dir = lake.ingest_manifest(dataset)
    batches = {entry["run_id"] for entry in files.read_json_lines(manifest_dir)}
    remove_orphan_batches(files, lake.bronze(dataset), batches)
    state = read_state(files, watermark_path(lake, dataset))
    result: dict[str, Any] = {"source": source.name, "mode": source.mode, "rows": 0}
    try:
        start, upto = _window(spark, source, credentials, state, result)
        if source.mode == "incremental" and upto is None:
            say(f"bronze: {dataset}: {source.name} is empty; nothing to extract")
            return result
        batch_id = next_batch_id(run_id, batches)
        path = batch_path(lake, dataset, ingested_at, batch_id)
        rows = read_sql(spark, source, credentials, source.select(start, upto), partitioned=True)
        bronze = database_rows(rows, contract.source_columns, source.name)
        add_ingest_metadata(bronze, batch_id, ingested_at).write.mode("overwrite").parquet(path)
    except SourceError:
        raise
    except Exception as exc:  # py4j's error from the JDBC read: one line, no password
        if not DRIVER_ERROR.search(str(exc)):
            raise
        raise source_error(dataset, source, credentials, exc) from None
    count = spark.read.parquet(path).count()
    if count == 0:
        files.delete(path)
    else:
        entry = manifest_entry(source, rows.columns, count, batch_id, ingested_at, start, upto)
        files.write_json_lines(f"{manifest_dir}/{batch_id}.json", [entry])
        result.update(batch=batch_id)
        extras = extra_columns(contract.source_columns, {source.name: rows.columns})
        if extras:
            result["extra_columns"] = [extra.name for extra in extras]
    result["rows"] = count
    if upto is not None:
        mark = _advance(Watermark.from_dict(state.get("watermark")), upto)
        check = _count(spark, source, credentials, source.window_start(mark))
        new_state = {"watermark": mark.as_dict(), "checked": check, "batch": result.get("batch")}
        files.write_text(watermark_path(lake, dataset), json.dumps(new_state, sort_keys=True))
    where = f"in batch {batch_id}" if count else "(nothing new)"
    say(f"bronze: {dataset}: {count} rows from {source.name} ({source.mode}) {where}")
    return result


def _window(
    spark: SparkSession,
    source: DatabaseSource,
    credentials: Credentials,
    state: dict[str, Any],
    result: dict[str, Any],
) -> tuple[Watermark | None, Watermark | None]:
    """The watermark range this run reads (snapshot: none), and the late-row check's verdict."""
    if source.mode != "incremental":
        return None, None
    previous = Watermark.from_dict(state.get("watermark"))
    late = _late_rows(spark, source, credentials, state.get("checked"))
    if late:
        result["risk"] = late
        say(f"bronze: WARNING {source.name}: {late['message']}")
    upto = _highest(spark, source, credentials)
    start = source.window_start(previous) if previous else None
    result["watermark_from"] = start.value if start else None
    result["watermark_to"] = upto.value if upto else None
    return start, upto


def _highest(
    spark: SparkSession, source: DatabaseSource, credentials: Credentials
) -> Watermark | None:
    """The highest watermark in the source now, typed by how Spark reads the column."""
    frame = read_sql(spark, source, credentials, source.highest())
    kind = watermark_kind(frame.schema["m"].dataType)
    if kind is None:
        raise SourceError(
            f"{source.name}: watermark_column {source.watermark_column!r} is read as "
            f"{frame.schema['m'].dataType.simpleString()}; it must be a timestamp or an integer"
        )
    row = _as_text(frame, kind).first()
    value = row[0] if row is not None else None
    return Watermark(kind, value) if value is not None else None


def _as_text(frame: DataFrame, kind: str) -> DataFrame:
    if kind == "integer":
        return frame.select(F.col("m").cast("bigint").cast("string"))
    return frame.select(F.date_format("m", MICROSECONDS.replace(" ", "'T'")))


def _advance(previous: Watermark | None, upto: Watermark) -> Watermark:
    """The stored watermark never goes back (a row deleted at the top must not rewind it)."""
    if previous is None or previous.kind != upto.kind:
        return upto
    if upto.kind == "integer":
        return upto if int(upto.value) >= int(previous.value) else previous
    newer = datetime.fromisoformat(upto.value) >= datetime.fromisoformat(previous.value)
    return upto if newer else previous


def _count(
    spark: SparkSession, source: DatabaseSource, credentials: Credentials, bound: Watermark
) -> dict[str, Any]:
    """How many rows have a watermark at or before ``bound``: the next run reads past it."""
    rows = read_sql(spark, source, credentials, source.count_at_or_before(bound)).first()
    return {"bound": bound.as_dict(), "rows": int(rows[0]) if rows else 0}


def _late_rows(
    spark: SparkSession,
    source: DatabaseSource,
    credentials: Credentials,
    checked: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """Rows that appeared below the last read window since the last run: committed late with
    an old watermark, they are not extracted. A net count: updates and deletes of old rows in
    the meantime can hide some, never invent one."""
    if not checked:
        return None
    bound = Watermark.from_dict(checked["bound"])
    assert bound is not None
    now = _count(spark, source, credentials, bound)["rows"]
    late = now - int(checked["rows"])
    if late <= 0:
        return None
    overlap = (
        f"{source.overlap_minutes}-minute"
        if bound.kind != "integer"
        else f"{source.overlap_ids}-id"
    )
    return {
        "late_rows": late,
        "at_or_before": bound.value,
        "message": (
            f"{late} row(s) with {source.watermark_column} at or before {bound.value} appeared "
            f"after an earlier run had read past them: outside the {overlap} overlap, not "
            "extracted; widen overlap_minutes/overlap_ids or re-read with mode: snapshot"
        ),
    }


def read_state(files: LakeFiles, path: str) -> dict[str, Any]:
    """The stored watermark state, or an empty one before the first extraction."""
    loaded: dict[str, Any] = files.read_json(path) or {}
    return loaded


def manifest_entry(
    source: DatabaseSource,
    columns: list[str],
    rows: int,
    batch_id: str,
    ingested_at: datetime,
    start: Watermark | None,
    upto: Watermark | None,
) -> dict[str, Any]:
    """The manifest line of a database batch, in the fields a file's line has (silver reads
    ``columns`` for schema drift), plus the watermark range read."""
    return {
        "path": source.name,
        "size": 0,
        "modified_ms": 0,
        "status": "ingested",
        "rows": rows,
        "malformed": 0,
        "encoding": "UTF-8",
        "columns": columns,
        "run_id": batch_id,
        "ingested_at": ingested_at.isoformat(),
        "watermark_from": start.value if start else None,
        "watermark_to": upto.value if upto else None,
    }
