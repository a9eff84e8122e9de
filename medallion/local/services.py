"""The local Glue, Athena and SNS that moto hands job runs, crawls, queries and alerts to."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import re
import smtplib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3

from medallion.local import catalog
from medallion.local.changes import CHANGES
from medallion.local.jobrunner import JobResult, run_job

LOG = logging.getLogger(__name__)
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

# The lake's bucket in a local definition: not in moto's S3, answered from the lake directory.
LAKE_BUCKET = "medallion-local-lake"

JobRunner = Callable[..., JobResult]
"""``run_job(layer, options, on_line=..., job_run_id=..., job_name=...)``; tests pass stand-ins."""


class LocalWorkError(RuntimeError):
    """Work behind a local service failed; the message is what AWS would report."""


class ThreadWork:
    """One piece of work on a daemon thread: RUNNING, then SUCCEEDED or FAILED; a query's work
    also holds its ``results``."""

    def __init__(self, name: str, body: Callable[[], None]) -> None:
        self.name = name
        self.results: AthenaResults | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self._state = "RUNNING"
        self._error = ""
        self._thread = threading.Thread(target=self._run, args=(body,), name=name, daemon=True)
        self._thread.start()

    def _run(self, body: Callable[[], None]) -> None:
        try:
            body()
        except Exception as exc:
            LOG.debug("%s failed", self.name, exc_info=True)
            self._error = " ".join(str(exc).split()) or type(exc).__name__
            self._state = "FAILED"
        else:
            self._state = "SUCCEEDED"
        finally:
            self.ended = time.monotonic()
            CHANGES.changed()  # a .sync Task waiting on this work looks now (changes.py)

    @property
    def state(self) -> str:
        """RUNNING, SUCCEEDED or FAILED."""
        return self._state

    @property
    def error_message(self) -> str:
        """Why the work failed, or empty."""
        return self._error

    def wait(self, timeout: float | None = None) -> None:
        """Block until the work ended (tests and shutdown)."""
        self._thread.join(timeout)


@dataclass(frozen=True)
class AthenaResults:
    """A query's rows as Athena hands them back: GetQueryResults' ``Rows`` (the header row
    first, every value a string) and ``ColumnInfo``, and the CSV Athena writes to the output
    location (https://docs.aws.amazon.com/athena/latest/ug/querying.html: a header row, every
    value double-quoted, an empty field for NULL)."""

    rows: list[dict[str, Any]]
    column_info: list[dict[str, Any]]
    csv: str


def athena_results(frame: Any) -> AthenaResults:
    """A DuckDB result as Athena's results: a pandas DataFrame from
    ``catalog.execute(..., exact=True)``, whose ``attrs["duckdb_types"]`` are named as Athena
    names them (a decimal's precision and scale included); a statement without rows (CREATE
    VIEW) gives none."""
    if frame is None or len(frame.columns) == 0:
        return AthenaResults([], [], "")
    names = [str(c) for c in frame.columns]
    duckdb_types = frame.attrs["duckdb_types"]
    info = [_column_info(n, t) for n, t in zip(names, duckdb_types, strict=True)]
    kinds = [column["Type"] for column in info]
    values = [
        [_athena_value(v, k) for v, k in zip(row, kinds, strict=True)]
        for row in frame.itertuples(index=False, name=None)
    ]
    rows = [{"Data": [{"VarCharValue": n} for n in names]}]
    rows += [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in values]
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(names)
    for row in values:
        # csv.writer quotes every field, an empty string too; Athena leaves NULL unquoted.
        out.write(",".join("" if v is None else _quoted(v) for v in row) + "\n")
    return AthenaResults(rows, info, out.getvalue())


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


# DuckDB's types by the names Athena (Trino) gives them in ColumnInfo
# (https://docs.aws.amazon.com/athena/latest/ug/data-types.html); DECIMAL(p,s), lists, structs
# and maps are matched apart.
ATHENA_TYPES = {
    "BOOLEAN": "boolean",
    "TINYINT": "tinyint",
    "SMALLINT": "smallint",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "HUGEINT": "bigint",  # DuckDB's sum of bigints; Trino's is a bigint
    "UTINYINT": "smallint",
    "USMALLINT": "integer",
    "UINTEGER": "bigint",
    "FLOAT": "real",
    "DOUBLE": "double",
    "VARCHAR": "varchar",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp with time zone",
    "BLOB": "varbinary",
}
DUCKDB_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def _column_info(name: str, duckdb_type: str) -> dict[str, Any]:
    """Athena's ColumnInfo of a DuckDB result column."""
    info: dict[str, Any] = {"Name": name, "Label": name, "Nullable": "UNKNOWN"}
    decimal = DUCKDB_DECIMAL.fullmatch(duckdb_type)
    if decimal:
        return {**info, "Type": "decimal", "Precision": int(decimal[1]), "Scale": int(decimal[2])}
    if duckdb_type.endswith("]"):
        kind = "array"
    elif duckdb_type.startswith("STRUCT"):
        kind = "row"
    elif duckdb_type.startswith("MAP"):
        kind = "map"
    else:
        kind = ATHENA_TYPES.get(duckdb_type, "varchar")
    return {**info, "Type": kind}


def _athena_value(value: Any, kind: str) -> str | None:
    import pandas as pd  # here, not at the top: a run imports this module before its host starts

    if getattr(value, "ndim", 0):  # an array column's value, as Arrow hands it (numpy)
        value = value.tolist()
    if value is None or (not isinstance(value, str | bytes | list | dict) and pd.isna(value)):
        return None
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(value)


@dataclass(frozen=True)
class AlertSettings:
    """Where a local alert goes: an SMTP server and addresses (env vars override defaults)."""

    host: str = "127.0.0.1"
    port: int = 1025
    sender: str = "medallion@example.com"
    recipients: tuple[str, ...] = ("oncall@example.com",)
    timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """Settings from ``MEDALLION_SMTP_HOST``, ``MEDALLION_SMTP_PORT``, ``MEDALLION_ALERT_FROM``
        and ``MEDALLION_ALERT_TO`` (comma-separated), else the defaults."""
        env = os.environ if environ is None else environ
        default = cls()
        recipients = tuple(
            r.strip() for r in env.get("MEDALLION_ALERT_TO", "").split(",") if r.strip()
        )
        return cls(
            host=env.get("MEDALLION_SMTP_HOST") or default.host,
            port=int(env.get("MEDALLION_SMTP_PORT") or default.port),
            sender=env.get("MEDALLION_ALERT_FROM") or default.sender,
            recipients=recipients or default.recipients,
        )


def send_alert(settings: AlertSettings, subject: str, body: str) -> EmailMessage:
    """Send one alert email over SMTP.

    Parameters
    ----------
    settings
        Server and addresses.
    subject, body
        The SNS message's subject and text.

    Returns
    -------
    email.message.EmailMessage
        The message sent.
    """
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        smtp.send_message(message)
    return message


@dataclass
class JobRecord:
    """A local job run, for the run's summary table."""

    job_name: str
    layer: str
    run_id: str
    result: JobResult | None = None


@dataclass
class LocalServices:
    """The work behind moto's Glue, Athena, SNS and the lake's bucket (implements
    ``moto_patches.LocalHooks``).

    Parameters
    ----------
    lake_root
        The local lake directory.
    jobs
        Glue job name -> layer (bronze, silver, gold).
    crawlers
        Glue crawler name -> layer.
    alerts
        Where SNS publishes are emailed.
    region
        Region of the moto Glue catalog the crawlers register tables in.
    job_runner
        Runs a layer's job; :func:`medallion.local.jobrunner.run_job` unless a test stands in.
    lake_bucket
        The bucket name the definition gives the lake (its objects are the lake's files).
    """

    lake_root: Path
    jobs: Mapping[str, str]
    crawlers: Mapping[str, str]
    alerts: AlertSettings = field(default_factory=AlertSettings.from_env)
    region: str = "us-east-1"
    job_runner: JobRunner = run_job
    lake_bucket: str = LAKE_BUCKET
    job_records: list[JobRecord] = field(default_factory=list)
    alerts_sent: list[Path] = field(default_factory=list)
    _settling: list[ThreadWork] = field(default_factory=list)
    _settling_lock: threading.Lock = field(default_factory=threading.Lock)

    # --- Glue jobs -------------------------------------------------------------------------
    def start_job_run(self, job_name: str, run_id: str, arguments: Mapping[str, str]) -> ThreadWork:
        """Run the job's layer script on local PySpark; its exit status is the run's state."""
        layer = self.jobs[job_name]
        options = {key.lstrip("-"): str(value) for key, value in arguments.items()}
        record = JobRecord(job_name, layer, run_id)
        self.job_records.append(record)
        log_path = (
            self.lake_root / "_meta" / "logs" / options.get("run_id", run_id) / f"{layer}.log"
        )

        def body() -> None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            # Append: a re-run under the same run id adds its attempt below the earlier ones.
            with log_path.open("a", encoding="utf-8") as log:
                started = datetime.now(UTC).isoformat(timespec="seconds")
                log.write(f"=== {layer} job run {run_id}, started {started} ===\n")
                # Glue's own --JOB_RUN_ID and --JOB_NAME are the run's; the runner adds the
                # job's DefaultArguments to the run's Arguments, as Glue does.
                result = self.job_runner(
                    layer,
                    options,
                    on_line=lambda line: log.write(line + "\n"),
                    job_run_id=run_id,
                    job_name=job_name,
                )
            record.result = result
            if result.state != "SUCCEEDED":
                raise LocalWorkError(result.error_message or f"exit status {result.exit_code}")

        # Not settled (see settle): a job that outlives its run ends with its job host.
        return self._start(f"glue-job-{layer}", body, settles=False)

    # --- Glue crawlers ---------------------------------------------------------------------
    def start_crawler(self, crawler_name: str, targets: Mapping[str, Any]) -> ThreadWork:
        """Register the layer's tables and partitions in the local catalog and in moto's Glue."""
        layer = self.crawlers[crawler_name]

        def body() -> None:
            self.crawl(layer)

        return self._start(f"glue-crawler-{layer}", body)

    def crawl(self, layer: str) -> list[Any]:
        """What a crawl does, synchronously: local DuckDB catalog first, then moto's Glue catalog.

        Returns
        -------
        list[medallion.local.catalog.TableInfo]
            The tables registered.
        """
        lake = str(self.lake_root)
        tables = list(catalog.register_layer(lake, layer))
        if layer == "gold":
            # On AWS the stack defines the quality tables; locally the gold crawl brings them.
            catalog.register_layer(lake, "quality")
        register_glue_tables(tables, database=layer, region=self.region)
        return tables

    # --- Athena ----------------------------------------------------------------------------
    def start_query(self, query: str, database: str, workgroup: str) -> ThreadWork:
        """Run Athena SQL on the local DuckDB catalog (sqlglot translates it); the work's
        ``results`` are its rows as GetQueryResults gives them, once it succeeded."""
        work: ThreadWork

        def body() -> None:
            lake, where = str(self.lake_root), database or "gold"
            frame = catalog.execute(lake, query, database=where, exact=True)
            work.results = athena_results(frame)

        work = self._start("athena-query", body)
        return work

    # --- SNS -------------------------------------------------------------------------------
    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        """Email the message and keep a copy under ``<lake>/_meta/alerts/``.

        A delivery failure is logged in the copy, not raised: SNS accepts a publish whether or
        not the email gets through.
        """
        sent_at = datetime.now(UTC)
        record: dict[str, Any] = {
            "topic_arn": topic_arn,
            "subject": subject,
            "message": message,
            "from": self.alerts.sender,
            "to": list(self.alerts.recipients),
            "smtp": f"{self.alerts.host}:{self.alerts.port}",
            "sent_at": sent_at.isoformat(),
            "delivered": True,
        }
        try:
            send_alert(self.alerts, subject, message)
        except (OSError, smtplib.SMTPException) as exc:
            # Said once, after the run's error, by whoever reports the run (the copy has it).
            LOG.debug("alert not delivered to %s: %s", record["smtp"], exc)
            record.update(delivered=False, delivery_error=str(exc))
        folder = self.lake_root / "_meta" / "alerts"
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", subject)[:80].strip("-")
        path = folder / f"{sent_at:%Y%m%dT%H%M%S%f}-{stem}.json"
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        self.alerts_sent.append(path)

    # --- S3: the lake's objects -----------------------------------------------------------
    def lake_object(self, bucket: str, key: str) -> bytes | None:
        """The lake's file ``key`` when ``bucket`` is the lake's, as S3 gives the deployed lake's
        object; None for another bucket (moto's S3 has it). KeyError (S3's NoSuchKey) when the
        lake has no such file, or the key leads out of it."""
        if bucket != self.lake_bucket:
            return None
        root = self.lake_root.resolve()
        path = (root / key).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise KeyError(key)
        return path.read_bytes()

    # --- plumbing --------------------------------------------------------------------------
    def _start(self, name: str, body: Callable[[], None], settles: bool = True) -> ThreadWork:
        work = ThreadWork(name, body)
        if settles:
            with self._settling_lock:  # the views' branches start their queries side by side
                # Only what may still run is kept: `medallion serve` starts one per request.
                self._settling = [w for w in self._settling if w.state == "RUNNING"]
                self._settling.append(work)
        return work

    def settle(self, timeout: float = 300.0) -> list[str]:
        """Wait, up to ``timeout`` seconds in all, for the crawls and queries still running.

        A run can end while some still run: a failed view's branch stops the Parallel state
        while its other branches' queries go on (a DuckDB statement is not stopped half-way
        through a catalog write), and a failed job leaves the crawls started before it. Called
        before moto's mock ends and the lake is let go: a crawl still running would otherwise
        register its tables with real AWS, a query would write the catalog of a lake another
        run may hold, and the process would exit with DuckDB working on a daemon thread, which
        aborts it ("terminate called without an active exception").

        Returns
        -------
        list[str]
            The names of the work still running after the timeout (logged), normally none.
        """
        deadline = time.monotonic() + timeout
        with self._settling_lock:
            running = list(self._settling)
        for work in running:
            work.wait(max(0.0, deadline - time.monotonic()))
        left = [work.name for work in running if work.state == "RUNNING"]
        if left:
            LOG.warning("still running after %.0f s, left behind: %s", timeout, ", ".join(left))
        return left

    def summaries(self) -> dict[str, dict[str, Any]]:
        """The last ``MEDALLION_SUMMARY`` of each layer's job run, by layer."""
        out: dict[str, dict[str, Any]] = {}
        for record in self.job_records:
            if record.result is not None:
                out[record.layer] = dict(record.result.summary)
        return out


def register_glue_tables(tables: Sequence[Any], database: str, region: str) -> None:
    """Create (or replace) tables and their partitions in the (moto) Glue catalog.

    Parameters
    ----------
    tables
        ``medallion.local.catalog.TableInfo`` objects, Glue-typed.
    database
        The Glue database; created when missing.
    region
        The catalog's region.
    """
    glue = boto3.client("glue", region_name=region)
    with contextlib.suppress(glue.exceptions.AlreadyExistsException):
        glue.create_database(DatabaseInput={"Name": database})
    for table in tables:
        keys = list(table.partition_keys)
        columns = [{"Name": c.name, "Type": c.type} for c in table.columns if c.name not in keys]
        types = {c.name: c.type for c in table.columns}
        storage = {
            "Columns": columns,
            "Location": table.location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE},
        }
        table_input = {
            "Name": table.name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": table.format},
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": k, "Type": types.get(k, "string")} for k in keys],
        }
        # A crawl replaces what it finds, so a re-crawl drops vanished partitions too.
        with contextlib.suppress(glue.exceptions.EntityNotFoundException):
            glue.delete_table(DatabaseName=database, Name=table.name)
        glue.create_table(DatabaseName=database, TableInput=table_input)
        partitions = [
            {
                "Values": [str(p[k]) for k in keys],
                "StorageDescriptor": {
                    **storage,
                    "Location": table.location.rstrip("/")
                    + "/"
                    + "/".join(f"{k}={p[k]}" for k in keys),
                },
            }
            for p in table.partitions
        ]
        for start in range(0, len(partitions), 100):
            glue.batch_create_partition(
                DatabaseName=database,
                TableName=table.name,
                PartitionInputList=partitions[start : start + 100],
            )
