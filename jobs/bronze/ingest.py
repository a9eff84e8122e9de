"""Bronze ingestion of one dataset: its new landing files appended to bronze, every line kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import reduce
from typing import Any

from py4j.protocol import Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from jobs.bronze.quoting import UNBALANCED, Spans, records_across_lines
from jobs.bronze.sniff import GZIP_MAGIC, SNIFF_BYTES, not_text_reason, unreadable_reason
from jobs.bronze.transforms import (
    add_ingest_metadata,
    extra_columns,
    json_keys,
    listed_path,
    number_and_decode_lines,
    parse_csv_lines,
    parse_header,
    parse_json_lines,
    parse_stream_records,
    stream_file_columns,
)
from jobs.common.aliases import named_as_contract
from jobs.common.contracts import Contract, EventStream
from jobs.common.entry import java_failure, say
from jobs.common.errors import LandingReadError
from jobs.common.lake import FileInfo, LakeFiles, LakePaths
from jobs.common.text import file_encoding

# Above this many new bytes in files that cannot be split, spread the parsing over every core
# instead of one task per file.
REPARTITION_BYTES = 8 * 1024 * 1024
# Compressed files Hadoop's codecs cannot split: each is read whole by one task.
UNSPLITTABLE = (".gz", ".gzip", ".zst", ".snappy", ".lz4", ".deflate")
# Characters Spark's reader expands as a glob in a path it is given, escaped to be literal.
GLOB_ESCAPES = str.maketrans({c: "\\" + c for c in "\\[]{}*?"})


def ingest_dataset(
    spark: SparkSession,
    files: LakeFiles,
    lake: LakePaths,
    contract: Contract,
    found: list[FileInfo],
    run_id: str,
    ingested_at: datetime,
    streamed: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Append one dataset's new files to bronze and record them in the ingestion manifest.

    ``streamed``: the files found under the contract's stream prefix (events).
    """
    dataset = contract.dataset
    manifest_dir = lake.ingest_manifest(dataset)
    manifest = files.read_json_lines(manifest_dir)
    batches = {entry["run_id"] for entry in manifest}
    remove_orphan_batches(files, lake.bronze(dataset), batches)
    taken = {(e["path"], e["size"], e["modified_ms"]) for e in manifest}
    new = [f for f in found if (f.path, f.size, f.modified_ms) not in taken]
    result: dict[str, Any] = {"files_found": len(found), "files_new": len(new), "rows": 0}
    # What earlier attempts of this run refused: not new now, but still this run's to tell.
    earlier = refused_in_run(manifest, run_id)
    if earlier:
        result["refused"] = earlier
    if not new:
        say(f"bronze: {dataset}: no new files ({len(found)} already ingested)")
        return result
    batch_id = next_batch_id(run_id, batches)
    refused = refused_files(files, [f for f in new if f.size > 0 and f.path not in streamed])
    with_data = [f for f in new if f.size > 0 and f.path not in refused]
    counts, columns = write_batch(spark, lake, contract, with_data, streamed, batch_id, ingested_at)
    formats = {f.path: "jsonl" if f.path in streamed else contract.format for f in new}
    entries = [
        manifest_entry(
            f, counts, columns.get(f.path, []), batch_id, formats[f.path], ingested_at, refused
        )
        for f in new
    ]
    files.write_json_lines(f"{manifest_dir}/{batch_id}.json", entries)
    result.update(
        batch=batch_id,
        rows=sum(e["rows"] for e in entries),
        malformed=sum(e["malformed"] for e in entries),
        skipped={e["path"]: e["status"] for e in entries if e["status"] != "ingested"},
        refused=earlier | refused,
    )
    if extras := extra_names(contract, columns):
        result["extra_columns"] = extras
    if spanning := {path: c["spanning"] for path, c in counts.items() if c.get("spanning")}:
        result["spanning"] = spanning  # records whose quoted field holds a line break, by file
    say(
        f"bronze: {dataset}: {len(new)} new file(s), {result['rows']} rows "
        f"({result['malformed']} malformed) in batch {batch_id}"
    )
    return result


def write_batch(
    spark: SparkSession,
    lake: LakePaths,
    contract: Contract,
    with_data: list[FileInfo],
    streamed: frozenset[str],
    batch_id: str,
    ingested_at: datetime,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Write the batch of the new files that hold data; each file's row counts (from the
    written batch; ``spanning``: its records that span lines, where it has any) and its own
    column names. Nothing is written when no file holds data."""
    if not with_data:
        return {}, {}
    dataset = contract.dataset
    path = batch_path(lake, dataset, ingested_at, batch_id)

    def write(records: Spans | None = None) -> tuple[StructType, dict[str, list[str]]]:
        with named_on_failure(dataset, with_data):
            rows, columns = read_lines(spark, contract, with_data, set(streamed), records)
            rows = add_ingest_metadata(rows, batch_id, ingested_at)
            # Its directory written directly: partitionBy would sort by two constant columns.
            rows.write.mode("overwrite").parquet(path)
        return rows.schema, columns

    schema, columns = write()
    counts, records = count_batch(spark, path, schema)
    if records:
        # Rare: a record whose quoted field holds a line break, which a line on its own cannot
        # read. Its lines are known now; the batch is not recorded yet.
        spanning = sum(len(found) for found in records.values())
        say(f"bronze: {dataset}: {spanning} record(s) span lines: reading each as one row")
        write(records)
        counts, _ = count_batch(spark, path, schema)
        for found, runs in records.items():
            counts[found]["spanning"] = len(runs)
    unlisted = sorted(set(counts) - {f.path for f in with_data})
    if unlisted:
        # A row whose file is not one listed would leave the listed file counted as empty.
        raise RuntimeError(f"bronze: {dataset}: rows counted for unlisted files {unlisted}")
    return counts, columns


@contextmanager
def named_on_failure(dataset: str, new: list[FileInfo], most: int = 5) -> Iterator[None]:
    """A failed read of the new files (a .gz cut short, say) as a LandingReadError naming the
    files and the Java cause: Spark's own error names neither the file nor, on its first line,
    the cause. The batch is not recorded, so the next run reads the files again."""
    try:
        yield
    except Py4JJavaError as err:
        names = [f.path.rsplit("/", 1)[-1] for f in new]
        listed = ", ".join(names[:most]) + (
            f" and {len(names) - most} more" if len(names) > most else ""
        )
        raise LandingReadError(
            f"{dataset}: reading its new landing files (or writing their bronze batch) failed: "
            f"{java_failure(err)}; the files read: {listed}"
        ) from err


def extra_names(contract: Contract, columns: dict[str, list[str]]) -> list[str]:
    """The bronze names of the columns a batch's files bring beyond the contract's (a column
    under one of its aliases is the contract's)."""
    exact, aliases = contract.format == "jsonl", contract.source_aliases
    named = {path: named_as_contract(found, aliases, exact) for path, found in columns.items()}
    return [extra.name for extra in extra_columns(contract.source_columns, named, exact)]


def refused_files(files: LakeFiles, candidates: list[FileInfo]) -> dict[str, str]:
    """The files that are not text bronze can read (an Excel workbook, or plain text named
    ``.gz``, say), each with why and what to do (``jobs.bronze.sniff``): none of their bytes is
    read as lines."""
    refused: dict[str, str] = {}
    for info in candidates:
        name = info.path.rsplit("/", 1)[-1]
        try:
            reason = not_text_reason(name, files.first_bytes(info.path, SNIFF_BYTES))
        except Py4JJavaError as err:
            # Refused only when it is plainly not gzip data under a gzip name. Anything else
            # (gzip data cut short, a codec this machine lacks, a read that failed) fails the
            # job, and the next run tries the file again.
            stored = files.first_bytes(info.path, 2, decoded=False)
            if not name.lower().endswith((".gz", ".gzip")) or stored == GZIP_MAGIC:
                failed = java_failure(err)
                raise LandingReadError(
                    f"{info.path}: reading its first bytes failed: {failed}"
                ) from err
            reason = unreadable_reason(name, str(err.java_exception.getMessage() or ""))
        if reason:
            say(f"bronze: {info.path} not read: {reason}")
            refused[info.path] = reason
    return refused


def read_lines(
    spark: SparkSession,
    contract: Contract,
    new: list[FileInfo],
    streamed: set[str],
    records: Spans | None = None,
) -> tuple[DataFrame, dict[str, list[str]]]:
    """The new files' data lines as bronze rows (every column as a string), and each file's
    columns as the file names them: its CSV header, or the keys of its JSON objects (sorted;
    for a stream object, under the source columns they map to, see ``stream_file_columns``).

    ``streamed`` are the files under the contract's stream prefix: events, read as JSON Lines
    whatever the contract's format; the rest are read as the contract's format says.
    ``records``: the records of CSV files that span lines, each read as one row
    (``count_batch``).
    """
    exports = [f for f in new if f.path not in streamed]
    events = [f for f in new if f.path in streamed]
    parts: list[DataFrame] = []
    columns: dict[str, list[str]] = {}
    if exports:
        rows, found = read_exports(spark, contract, exports, records)
        parts.append(rows)
        columns |= found
    if events and contract.stream is not None:
        rows, found = read_events(spark, contract.source_columns, contract.stream, events)
        parts.append(rows)
        columns |= found
    # A batch of exports and events is one batch: columns one kind lacks are null in it.
    return reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), parts), columns


def scan_lines(spark: SparkSession, new: list[FileInfo]) -> DataFrame:
    """The files' lines, numbered and decoded (``number_and_decode_lines``).

    A big uncompressed file is read in splits, by as many tasks (Spark's file sources split a
    file above ``min(maxPartitionBytes, max(openCostInBytes, bytes / cores))``); the numbering
    holds across splits. A ``.gz`` file is decompressed by the Hadoop codec its suffix names and
    read whole by one task: gzip cannot be split, so a batch of big ones is spread over every
    core after reading.
    """
    files = LakeFiles(spark)
    raw = spark.read.format("text").load([glob_escaped(f.path) for f in new])
    listed = {files.spark_file_path(f.path): f.path for f in new}
    raw = raw.select(
        listed_path(F.col("_metadata.file_path"), listed).alias("_ingest_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_row_id"),
        F.col("value").cast("binary").alias("_bytes"),
    )
    lines = number_and_decode_lines(raw)
    if sum(f.size for f in new if f.path.lower().endswith(UNSPLITTABLE)) > REPARTITION_BYTES:
        lines = lines.repartition(spark.sparkContext.defaultParallelism)
    return lines


def read_exports(
    spark: SparkSession, contract: Contract, new: list[FileInfo], records: Spans | None = None
) -> tuple[DataFrame, dict[str, list[str]]]:
    """Export files (CSV or JSON Lines, as the contract says) as bronze rows, and their columns."""
    files = LakeFiles(spark)
    lines = scan_lines(spark, new)
    aliases = contract.source_aliases
    if contract.format == "csv":
        fields = {f.path: parse_header(files.first_line(f.path)) for f in new}
        named = {path: named_as_contract(header, aliases) for path, header in fields.items()}
        return parse_csv_lines(lines, contract.source_columns, named, records), fields
    fields = file_keys(lines, new)
    return parse_json_lines(lines, contract.source_columns, fields, aliases), fields


def read_events(
    spark: SparkSession, source_columns: list[str], stream: EventStream, new: list[FileInfo]
) -> tuple[DataFrame, dict[str, list[str]]]:
    """Stream objects (one JSON event per line) as bronze rows, and their columns."""
    lines = scan_lines(spark, new)
    keys = file_keys(lines, new)
    fields = {name: stream.field_of(name) for name in source_columns}
    own = [stream.event_id, stream.sent_at]
    rows = parse_stream_records(lines, fields, own, keys)
    return rows, {path: stream_file_columns(found, fields, own) for path, found in keys.items()}


def file_keys(lines: DataFrame, new: list[FileInfo]) -> dict[str, list[str]]:
    """Each JSON file's keys, sorted: a pass of its own over the files, since the keys decide
    the batch's columns."""
    found: dict[str, list[str]] = {f.path: [] for f in new}
    for row in json_keys(lines).collect():
        found.setdefault(row["_ingest_file"], []).append(row["key"])
    return {path: sorted(keys) for path, keys in found.items()}


def glob_escaped(path: str) -> str:
    """A path Spark's reader takes literally: it expands ``[]{}*?`` as a glob otherwise."""
    return path.translate(GLOB_ESCAPES)


def batch_path(lake: LakePaths, dataset: str, ingested_at: datetime, batch_id: str) -> str:
    """``bronze/<dataset>/ingest_date=<day>/run_id=<batch>``: a new directory per batch."""
    return f"{lake.bronze(dataset)}/ingest_date={ingested_at.date().isoformat()}/run_id={batch_id}"


def count_batch(
    spark: SparkSession, path: str, schema: StructType
) -> tuple[dict[str, dict[str, Any]], dict[str, list[tuple[int, int]]]]:
    """Rows and malformed rows per file, read back from what was written, and the records of
    each CSV file that span lines (``jobs.bronze.quoting``; files with none left out).

    ``schema``: the written frame's; without it Spark runs a job to read a file's footer first
    (every schema inference of a Parquet read does), one more small job on the delivery's path.
    """
    marked = F.when(
        F.col("_corrupt_reason") == UNBALANCED, F.struct("_ingest_line", "_corrupt_record")
    )
    grouped = (
        spark.read.schema(schema)
        .parquet(path)
        .groupBy("_ingest_file")
        .agg(
            F.count("*").alias("rows"),
            F.count("_corrupt_record").alias("malformed"),
            F.collect_set("_ingest_encoding").alias("encodings"),
            F.collect_list(marked).alias("marked"),
        )
        .collect()
    )
    counts = {
        r["_ingest_file"]: {
            "rows": r["rows"],
            "malformed": r["malformed"],
            "encoding": file_encoding(r["encodings"]),
        }
        for r in grouped
    }
    records = {
        r["_ingest_file"]: spans
        for r in grouped
        if (spans := records_across_lines((m[0], m[1]) for m in r["marked"]))
    }
    return counts, records


def manifest_entry(
    info: FileInfo,
    counts: dict[str, dict[str, Any]],
    columns: list[str],
    batch_id: str,
    file_format: str,
    ingested_at: datetime,
    refused: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What the manifest remembers of one file; empty, header-only and refused files are
    recorded too.

    ``columns`` are the file's own column names (header or JSON keys): silver compares them
    with the contract to report schema drift. ``refused``: why files that are not text were
    not read, by path (``refused_files``).
    """
    count = counts.get(info.path, {})
    rows = int(count.get("rows", 0))
    reason = (refused or {}).get(info.path)
    if reason:
        status = "refused_unreadable" if reason.startswith("unreadable") else "refused_not_text"
    elif info.size == 0:
        status = "skipped_empty"
    elif rows == 0:
        status = "skipped_header_only" if file_format == "csv" else "skipped_empty"
    else:
        status = "ingested"
    return {
        "path": info.path,
        "size": info.size,
        "modified_ms": info.modified_ms,
        "status": status,
        "rows": rows,
        "malformed": int(count.get("malformed", 0)),
        "encoding": count.get("encoding"),
        "columns": columns,
        "run_id": batch_id,
        "ingested_at": ingested_at.isoformat(),
    } | ({"reason": reason} if reason else {})


def refused_in_run(manifest: list[dict[str, Any]], run_id: str) -> dict[str, str]:
    """The files the run's batches (``run_id``, ``run_id.2``... see ``next_batch_id``) refused,
    each with its reason, as the manifest recorded them."""
    batch = re.compile(re.escape(run_id) + r"(\.\d+)?")
    return {
        e["path"]: e.get("reason", e["status"])
        for e in manifest
        if e["status"].startswith("refused") and batch.fullmatch(e["run_id"])
    }


def next_batch_id(run_id: str, batches: set[str]) -> str:
    """The run id, or run id .2, .3 ... when a re-run of the same run finds new files."""
    if run_id not in batches:
        return run_id
    attempt = 2
    while f"{run_id}.{attempt}" in batches:
        attempt += 1
    return f"{run_id}.{attempt}"


def remove_orphan_batches(files: LakeFiles, bronze: str, batches: set[str]) -> None:
    """Delete bronze batches a crashed run wrote but never recorded, so nothing lands twice."""
    for ingest_date in files.list_dirs(bronze):
        for batch in files.list_dirs(f"{bronze}/{ingest_date}"):
            if batch.startswith("run_id=") and batch.removeprefix("run_id=") not in batches:
                say(f"bronze: removing unrecorded batch {bronze}/{ingest_date}/{batch}")
                files.delete(f"{bronze}/{ingest_date}/{batch}")
