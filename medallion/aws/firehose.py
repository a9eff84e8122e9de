"""A Firehose producer: order lines as events, sent with PutRecordBatch, none ever dropped.

Each order line becomes one event, a JSON object on one line: the order_lines contract's source
columns as the export names them (``InvoiceNo``, ``StockCode``, ...), plus ``event_id`` and
``sent_at``. The event id is derived from the source's content and the line's position, so an
event sent again (a retried batch, a producer restarted after a kill) carries the same id and
silver can remove the copy.

Delivery is at least once:

- events go in batches of at most 500 records and 4 MiB, each record at most 1,000 KiB
  (PutRecordBatch's limits, which "cannot be changed":
  https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html);
- a 200 response may still carry per-record failures (``FailedPutCount``, an ``ErrorCode`` per
  record): only those records are sent again, with exponential backoff and full jitter
  (tenacity), until every record of the batch is acknowledged or the attempts run out;
- a call that fails as a whole (throttling, a dropped connection) is retried the same way;
- with a checkpoint file, the number of events acknowledged is written after each batch is
  wholly acknowledged (write, then atomic rename), so a producer killed mid-stream and started
  again resumes at the first batch not wholly acknowledged: no acknowledged event is lost, and
  the events sent again are duplicates by id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from jobs.common.text import decode_text
from medallion.aws import AwsError, client
from medallion.aws.stack import stack_name, stack_outputs

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1000 * 1024
# errors of a whole call worth another attempt; anything else (no such stream, access denied) is
# the user's to fix and ends the stream at once
TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "ThrottlingException",
        "LimitExceededException",
        "InternalFailure",
        "RequestTimeout",
    }
)
EVENT_NAMESPACE = uuid.UUID("6f1d5a52-3c1e-4f0e-9a55-6d6564616c6c")  # fixed: ids are stable


STREAM_OUTPUT = "OrderStreamName"  # infra/stack.py, when OrderStreamEnabled is true


class StreamError(AwsError):
    """The stream cannot be written: a call failed for good, or records stayed unacknowledged."""


def delivery_stream_name(
    env: str, endpoint_url: str | None = None, region: str | None = None
) -> str:
    """The order stream of an environment's stack: its ``OrderStreamName`` output.

    Raises
    ------
    AwsError
        No stack for that environment (``StackNotFoundError``), or a stack deployed without the
        order stream (``StreamError``, saying how to add it).
    """
    outputs = stack_outputs(env, endpoint_url=endpoint_url, region=region)
    if not outputs.get(STREAM_OUTPUT):
        raise StreamError(
            f"stack {stack_name(env)} has no order stream (no {STREAM_OUTPUT} output): deploy it "
            f"with `medallion deploy --env {env} -p OrderStreamEnabled=true`, or pass --stream"
        )
    return outputs[STREAM_OUTPUT]


@dataclass(frozen=True)
class Event:
    """One order line as an event: its position in the source and its JSON object; a line
    whose fields do not match the header is sent as it is (a malformed record bronze keeps)."""

    position: int
    event_id: str | None
    data: bytes

    def record(self, sent_at: str) -> bytes:
        """The record's bytes: the JSON object with the time its batch was first sent (a retry
        keeps it), on a line of its own; a malformed line unchanged."""
        if self.event_id is None:
            return self.data + b"\n"
        return self.data[:-1] + f', "sent_at": "{sent_at}"}}\n'.encode()


@dataclass
class StreamStats:
    """What a producer did: events acknowledged, sent again, left failed, and how long it took."""

    total: int
    acknowledged: int = 0
    resumed_from: int = 0
    retried: int = 0
    failed: int = 0
    batches: int = 0
    malformed: int = 0  # lines whose fields do not match the header, sent as they are
    seconds: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        sent = self.acknowledged - self.resumed_from
        return sent / self.seconds if self.seconds > 0 else 0.0


def read_events(source: Path) -> tuple[str, list[Event]]:
    """The source CSV's lines as events, and the source's digest (what a checkpoint belongs to).

    The CSV is an order_lines export with its header (the UCI Online Retail layout); each row
    keeps its columns as they are, as strings, so bronze sees what the shop sent.
    """
    raw = source.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    # Each line as bronze decodes it: UTF-8, Windows-1252 (an Excel export) or Latin-1 (the UCI
    # export).
    text = decode_text(raw)
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if not header:
        raise StreamError(f"{source} is empty: an order_lines export starts with its header")
    events = []
    for position, fields in enumerate(rows):
        if len(fields) != len(header):
            line = io.StringIO()
            csv.writer(line, lineterminator="").writerow(fields)
            events.append(Event(position, None, line.getvalue().encode()))
            continue
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{digest}:{position}"))
        body = {"event_id": event_id, **dict(zip(header, fields, strict=True))}
        events.append(Event(position, event_id, json.dumps(body, ensure_ascii=False).encode()))
    return digest, events


def batches(events: Sequence[Event], limit: int = MAX_BATCH_RECORDS) -> Iterator[list[Event]]:
    """Consecutive events in batches within PutRecordBatch's record and byte limits."""
    batch: list[Event] = []
    size = 0
    for event in events:
        record = len(event.data) + len(b', "sent_at": "YYYY-MM-DDTHH:MM:SS.ffffff+00:00"}\n')
        if record > MAX_RECORD_BYTES:
            raise StreamError(
                f"order line {event.position + 1} is {record:,} bytes as an event; a Firehose "
                f"record holds at most {MAX_RECORD_BYTES:,}"
            )
        if batch and (len(batch) >= limit or size + record > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += record
    if batch:
        yield batch


@dataclass
class Checkpoint:
    """How many events of a source were acknowledged, kept in a file between producer runs."""

    path: Path | None
    digest: str

    def load(self) -> int:
        if self.path is None or not self.path.exists():
            return 0
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError) as err:
            raise StreamError(f"checkpoint {self.path} cannot be read: {err}") from None
        if saved.get("digest") != self.digest:
            raise StreamError(
                f"checkpoint {self.path} belongs to another source; remove it to start over"
            )
        return int(saved.get("acknowledged", 0))

    def save(self, acknowledged: int) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"digest": self.digest, "acknowledged": acknowledged}))
        os.replace(partial, self.path)


@dataclass
class Producer:
    """Sends events to a delivery stream; see the module's docstring for the guarantees."""

    stream: str
    session: boto3.Session | None = None
    endpoint_url: str | None = None
    region: str | None = None
    rate: float = 0.0  # events per second; 0 sends as fast as the stream takes them
    max_attempts: int = 10
    backoff_seconds: float = 0.1
    max_backoff_seconds: float = 20.0
    on_batch: Callable[[StreamStats], None] | None = None

    def send(self, events: Sequence[Event], checkpoint: Checkpoint) -> StreamStats:
        """Send the events not yet acknowledged by an earlier run; return what was done."""
        try:
            firehose = client("firehose", self.session, self.endpoint_url, self.region)
        except BotoCoreError as err:  # no region
            raise StreamError(f"cannot write to {self.stream}: {err}") from None
        start = checkpoint.load()
        stats = StreamStats(total=len(events), acknowledged=start, resumed_from=start)
        stats.malformed = sum(event.event_id is None for event in events[start:])
        began = time.monotonic()
        for batch in batches(events[start:]):
            self._pace(began, stats.acknowledged - start)
            self._deliver(firehose, batch, stats)
            stats.acknowledged += len(batch)
            stats.batches += 1
            stats.seconds = time.monotonic() - began
            checkpoint.save(stats.acknowledged)
            if self.on_batch is not None:
                self.on_batch(stats)
        stats.seconds = time.monotonic() - began
        return stats

    def _pace(self, began: float, sent: int) -> None:
        if self.rate > 0:
            ahead = began + sent / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def _deliver(self, firehose: Any, batch: list[Event], stats: StreamStats) -> None:
        sent_at = datetime.now(UTC).isoformat(timespec="microseconds")
        pending = {event.position: event.record(sent_at) for event in batch}
        first = True

        def attempt() -> dict[int, bytes]:
            nonlocal first
            if not first:
                stats.retried += len(pending)
            first = False
            return self._put(firehose, pending, stats)

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_random_exponential(
                multiplier=self.backoff_seconds, max=self.max_backoff_seconds
            ),
            retry=retry_if_result(bool) | retry_if_exception_type(_Transient),
        )
        try:
            retrying(attempt)
        except RetryError as err:
            stats.failed = len(pending)
            cause = err.last_attempt.exception()
            why = f": {cause}" if cause else f" ({_top(stats.errors)})"
            raise StreamError(
                f"{len(pending)} events stayed unacknowledged after {self.max_attempts} "
                f"attempts{why}"
            ) from None

    def _put(
        self, firehose: Any, pending: dict[int, bytes], stats: StreamStats
    ) -> dict[int, bytes]:
        """One PutRecordBatch of the pending records; the ones it did not take stay pending."""
        order = list(pending)
        try:
            answer = firehose.put_record_batch(
                DeliveryStreamName=self.stream,
                Records=[{"Data": pending[position]} for position in order],
            )
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in TRANSIENT_CODES:
                stats.errors[code] = stats.errors.get(code, 0) + 1
                raise _Transient(f"{code}: {err}") from None
            message = err.response.get("Error", {}).get("Message", "")
            raise StreamError(f"delivery stream {self.stream}: {code}: {message}") from None
        except (BotoConnectionError, HTTPClientError) as err:  # the connection, not the request
            stats.errors[type(err).__name__] = stats.errors.get(type(err).__name__, 0) + 1
            raise _Transient(str(err)) from None
        except BotoCoreError as err:  # no credentials, no region: another attempt cannot help
            raise StreamError(f"cannot write to {self.stream}: {err}") from None
        for position, response in zip(order, answer["RequestResponses"], strict=True):
            code = response.get("ErrorCode")
            if code:
                stats.errors[code] = stats.errors.get(code, 0) + 1
            else:
                del pending[position]
        return pending


class _Transient(Exception):
    """A whole call failed in a way another attempt may fix."""


def _top(errors: dict[str, int]) -> str:
    return ", ".join(f"{code} x{count}" for code, count in sorted(errors.items())) or "no answer"
