"""The lake's layout under one root URI, and small-file I/O through Hadoop's FileSystem.

The same code reads and writes ``s3://bucket/`` on Glue and a local directory on a laptop: Spark
handles the data, and the small JSON files (manifests, quality records) go through the JVM's
Hadoop FileSystem so no second storage client is needed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from jobs.common.records import TABLES, record_file
from jobs.common.text import decode_line

LAYERS = ("bronze", "silver", "gold")
FOOTER_FILES = 64
"""The most files whose rows :meth:`LakeFiles.parquet_rows` reads from footers in the driver,
one file after another: a few hundredths of a second each on S3 (two requests), against the
second or so a Spark count of a small read costs in planning and scheduling."""


def normalize_root(root: str) -> str:
    """A URI with a scheme stays as is; a local path becomes absolute, without a trailing slash."""
    if "://" in root or root.startswith("file:"):
        return root.rstrip("/")
    return os.path.abspath(os.path.expanduser(root)).rstrip("/")


@dataclass(frozen=True)
class LakePaths:
    """Every location in the lake, derived from its root (see ARCHITECTURE.md, The lake)."""

    root: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", normalize_root(self.root))

    def landing(self, dataset: str) -> str:
        return f"{self.root}/landing/{dataset}"

    def bronze(self, dataset: str) -> str:
        return f"{self.root}/bronze/{dataset}"

    def silver(self, dataset: str) -> str:
        return f"{self.root}/silver/{dataset}"

    def silver_staging(self, dataset: str, run_id: str) -> str:
        return f"{self.root}/_staging/silver/{dataset}/run_id={run_id}"

    def silver_checked(self, dataset: str, run_id: str | None = None) -> str:
        """A silver run's checked copy of its batch; without a run id, every run's."""
        folder = f"{self.root}/_staging/checked/{dataset}"
        return f"{folder}/run_id={run_id}" if run_id else folder

    def quarantine(self, dataset: str) -> str:
        return f"{self.root}/quarantine/{dataset}"

    def gold(self, mart: str) -> str:
        return f"{self.root}/gold/{mart}"

    @property
    def quality_results(self) -> str:
        return f"{self.root}/{TABLES['quality_results'].folder}"

    @property
    def quality_runs(self) -> str:
        return f"{self.root}/{TABLES['quality_runs'].folder}"

    def quality_record(self, table: str, dataset: str, run_id: str, attempt: str = "") -> str:
        """The file of one run's (one attempt's) records of a quality table (see
        ``jobs.common.records``)."""
        return f"{self.root}/{record_file(table, dataset, run_id, attempt)}"

    def ingest_manifest(self, dataset: str) -> str:
        return f"{self.root}/_meta/ingested/{dataset}"

    def bronze_notice(self, run_id: str) -> str:
        """What bronze tells the run's on-call person (``jobs.bronze.notice``); the state machine
        reads it by this key (``_meta/notices/<run_id>/bronze.json``)."""
        return f"{self.root}/_meta/notices/{run_id}/bronze.json"

    def gold_state(self) -> str:
        return f"{self.root}/_meta/gold/state.json"

    def gold_meta(self, name: str) -> str:
        """Gold's own state under ``_meta/gold/`` (its tables, its publish journal)."""
        return f"{self.root}/_meta/gold/{name}"

    def gold_run_record(self, run_id: str) -> str:
        """What one gold run read and rewrote: ``_meta/gold/runs/<run_id>.json``."""
        return f"{self.root}/_meta/gold/runs/{run_id}.json"

    def gold_staging(self, run_id: str | None = None) -> str:
        """A gold run's new mart versions before they are published; without a run id, all."""
        folder = f"{self.root}/_staging/gold"
        return f"{folder}/run_id={run_id}" if run_id else folder

    def readers_lock(self) -> str | None:
        """The local catalog's lock file (readers hold it shared while querying), or None on an
        object store, where there is no such lock. Its place is medallion.local.catalog's."""
        root = self.root.removeprefix("file://").removeprefix("file:")
        return None if "://" in root else f"{root}/_catalog/catalog.lock"


@dataclass(frozen=True)
class FileInfo:
    """A file as listed: its URI, size in bytes and modification time in epoch milliseconds."""

    path: str
    size: int
    modified_ms: int


class LakeFiles:
    """Small-file operations on any Hadoop-supported URI, through the session's JVM."""

    def __init__(self, spark: SparkSession) -> None:
        jvm, jsc = spark.sparkContext._jvm, spark.sparkContext._jsc
        if jvm is None or jsc is None:
            raise RuntimeError("the SparkSession has no JVM (it was stopped)")
        self._jvm: Any = jvm
        self._conf = jsc.hadoopConfiguration()
        # Looked up once: py4j resolves each of the five names of the dotted path on every access.
        self._path_class = jvm.org.apache.hadoop.fs.Path

    def _path(self, uri: str) -> Any:
        return self._path_class(uri)

    def _fs(self, uri: str) -> Any:
        return self._path(uri).getFileSystem(self._conf)

    def exists(self, uri: str) -> bool:
        return bool(self._fs(uri).exists(self._path(uri)))

    def list_files(self, uri: str) -> list[FileInfo]:
        """Every file below ``uri``, recursively, skipping hidden and Spark marker files."""
        if not self.exists(uri):
            return []
        fs = self._fs(uri)
        if fs.getScheme() == "file":
            found = self._local_files(fs.makeQualified(self._path(uri)).toUri().getPath())
        else:
            # On an object store one recursive listing is a flat LIST of the prefix.
            found = []
            iterator = fs.listFiles(self._path(uri), True)
            while iterator.hasNext():
                status = iterator.next()
                path = status.getPath()
                found.append(
                    FileInfo(path.toString(), status.getLen(), status.getModificationTime())
                )
        visible = [f for f in found if not f.path.rsplit("/", 1)[-1].startswith((".", "_"))]
        return sorted(visible, key=lambda f: f.path)

    @staticmethod
    def _local_files(top: str) -> list[FileInfo]:
        """Every file below the local directory ``top``, as Hadoop's local file system names
        them (``file:/...``), read by the driver's own system calls.

        Through the JVM each entry costs several py4j round trips (a 20-year silver order_lines
        table, 6,221 files: 6.2 s, against 0.1 s here), and Hadoop's local ``listFiles`` even
        runs ``ls -ld`` per file for its permissions. Sizes and times are the ones Hadoop reports
        (``File.length``, ``File.lastModified`` in milliseconds).
        """
        found: list[FileInfo] = []
        pending = [top]
        while pending:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.is_dir():
                        pending.append(entry.path)
                        continue
                    try:
                        stat = entry.stat()
                    except FileNotFoundError:  # removed while listed, or a dangling link
                        continue
                    found.append(
                        FileInfo(f"file:{entry.path}", stat.st_size, stat.st_mtime_ns // 1_000_000)
                    )
        return found

    def parquet_rows(self, uris: Iterable[str], most: int = FOOTER_FILES) -> int | None:
        """The rows of the Parquet files below ``uris``, summed from their footers, or None when
        there are more than ``most`` files (a Spark count reads those in parallel).

        The files are the ones a Spark read of ``uris`` reads: every file below, hidden and
        marker files (``.`` and ``_``) skipped. A footer holds each row group's row count
        (https://parquet.apache.org/docs/file-format/metadata/), so no data page is read.
        """
        files = [info for uri in uris for info in self.list_files(uri)]
        if len(files) > most:
            return None
        # Looked up once, not per file: each name of a dotted path is a round trip to the JVM.
        parquet = self._jvm.org.apache.parquet.hadoop
        input_file, file_reader = parquet.util.HadoopInputFile, parquet.ParquetFileReader
        rows = 0
        for info in files:
            source = input_file.fromPath(self._path(info.path), self._conf)
            reader = file_reader.open(source)
            try:
                rows += int(reader.getRecordCount())
            finally:
                reader.close()
        return rows

    def spark_file_path(self, uri: str) -> str:
        """The form Spark gives this file's path in ``_metadata.file_path``.

        That is Hadoop's ``Path.toUri()``: percent-encoded where a URI path must be (a space is
        ``%20``, a literal ``%`` is ``%25``, ``[`` is ``%5B``), while ``+``, parentheses and
        non-ASCII letters stay as they are. Not form-decodable: ``+`` means ``+``.
        """
        return str(self._path(uri).toUri().toString())

    def list_dirs(self, uri: str) -> list[str]:
        """Names of the direct subdirectories of ``uri``."""
        if not self.exists(uri):
            return []
        statuses = self._fs(uri).listStatus(self._path(uri))
        return sorted(s.getPath().getName() for s in statuses if s.isDirectory())

    def read_text(self, uri: str) -> str:
        stream = self._fs(uri).open(self._path(uri))
        try:
            scanner = self._jvm.java.util.Scanner(stream, "UTF-8").useDelimiter("\\A")
            text = str(scanner.next()) if scanner.hasNext() else ""
            # A Scanner keeps a read error to itself and returns what it read before it (a
            # local file whose checksum does not match: nothing); cut text is no text.
            if scanner.ioException() is not None:
                raise OSError(f"{uri} could not be read: {scanner.ioException().toString()}")
            return text
        finally:
            stream.close()

    @contextmanager
    def _content(self, uri: str, decoded: bool = True) -> Iterator[Any]:
        """A file's content as a Java stream: a compressed file (``.gz``, ``.bz2``...)
        decompressed by the Hadoop codec its suffix names, as Spark's text source reads it
        (its stored bytes with ``decoded=False``)."""
        path = self._path(uri)
        codecs = self._jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(self._conf)
        codec = codecs.getCodec(path) if decoded else None
        stream = self._fs(uri).open(path)
        try:
            if codec is not None:
                stream = codec.createInputStream(stream)
            yield stream
        finally:
            stream.close()

    def first_bytes(self, uri: str, count: int, decoded: bool = True) -> bytes:
        """The first ``count`` bytes of a file's content (fewer if it is shorter)."""
        with self._content(uri, decoded) as stream:
            return bytes(stream.readNBytes(count))

    def first_line(self, uri: str) -> str:
        """A file's first line of content, decoded as bronze decodes a line
        (``jobs.common.text.decode_line``)."""
        with self._content(uri) as stream:
            # Latin-1 maps bytes to characters one to one, so the raw bytes can be recovered.
            reader = self._jvm.java.io.BufferedReader(
                self._jvm.java.io.InputStreamReader(stream, "ISO-8859-1")
            )
            raw = str(reader.readLine() or "").encode("latin-1")
        return decode_line(raw)

    def write_text(self, uri: str, text: str) -> None:
        """Write a whole file; the object store or a local rename makes it appear at once."""
        stream = self._fs(uri).create(self._path(uri), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def delete(self, uri: str) -> None:
        if self.exists(uri):
            self._fs(uri).delete(self._path(uri), True)

    def move(self, source: str, target: str) -> None:
        """Rename a file or directory to ``target`` (which must not exist; its parent is made).

        A rename on a local file system is one atomic step; on S3 it is a copy and a delete.
        """
        self._fs(target).mkdirs(self._path(target).getParent())
        if not self._fs(source).rename(self._path(source), self._path(target)):
            raise OSError(f"could not move {source} to {target}")

    def read_json(self, uri: str) -> Any | None:
        """A JSON file's value, None when there is no such file (ValueError when it is not
        JSON: a local file cut short by a kill mid-write, say)."""
        return json.loads(self.read_text(uri)) if self.exists(uri) else None

    def read_json_lines(self, uri: str) -> list[dict[str, Any]]:
        """Every JSON record of every file below ``uri`` (empty when there is none)."""
        records: list[dict[str, Any]] = []
        for info in self.list_files(uri):
            if info.path.endswith(".json"):
                text = self.read_text(info.path)
                records.extend(json.loads(line) for line in text.splitlines() if line.strip())
        return records

    def write_json_lines(self, uri: str, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in records)
        self.write_text(uri, text)
