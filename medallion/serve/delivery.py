"""A Firehose delivery stream into the local lake: buffered, gzip'd, one object per flush.

What it keeps of Firehose (Direct PUT, an S3 destination with GZIP compression):

- records are buffered and delivered as one object when the buffer reaches the size hint or the
  interval has passed since its oldest record, whichever comes first (``BufferingHints``:
  https://docs.aws.amazon.com/firehose/latest/APIReference/API_BufferingHints.html), and when the
  stream is closed (``medallion serve`` stopping);
- an object holds its records' bytes concatenated as sent (Firehose adds no delimiter), gzip'd;
- its key is ``<prefix>YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz``, the
  time being the arrival of the oldest record in it, in UTC
  (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html and
  https://docs.aws.amazon.com/firehose/latest/dev/s3-prefixes.html).

An object appears whole or not at all: it is written under ``<lake>/_meta/firehose/`` (the same
file system) and renamed into landing, so bronze never reads half an object. An object that
cannot be written keeps its records in the buffer, to be written at the next flush.

``failure_rate`` is a fault-injection aid: that share of records is refused (an ``ErrorCode`` in
PutRecordBatch's answer, as Firehose does when it is over its limits) the first time it is sent;
the same bytes sent again are taken.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

LOG = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass(frozen=True)
class BufferHints:
    """Firehose's buffering hints: deliver at this many MiB or seconds, whichever comes first."""

    size_mib: float = 5.0
    interval_seconds: float = 60.0


@dataclass
class DeliveryStats:
    """What the stream took, refused and wrote."""

    accepted: int = 0
    refused: int = 0
    objects: int = 0
    records_written: int = 0
    written: list[Path] = field(default_factory=list)


class LocalDeliveryStream:
    """One delivery stream writing into ``landing`` (implements ``moto_patches.FirehoseHooks``).

    Parameters
    ----------
    name
        The delivery stream's name (in each object's name).
    landing
        Where objects go: ``<lake>/landing/order_lines/stream/``.
    staging
        Where an object is written before its rename (on the same file system as ``landing``).
    hints
        The buffering hints.
    failure_rate
        Share of records refused the first time they are sent (0 to 1), for fault injection.
    """

    def __init__(
        self,
        name: str,
        landing: Path,
        staging: Path,
        hints: BufferHints | None = None,
        failure_rate: float = 0.0,
    ) -> None:
        if not 0.0 <= failure_rate < 1.0:
            raise ValueError(f"failure rate must be at least 0 and below 1, not {failure_rate}")
        self.name = name
        self.landing = landing
        self.staging = staging
        self.hints = hints or BufferHints()
        self.failure_rate = failure_rate
        self.version = 1
        self.stats = DeliveryStats()
        self._records: list[bytes] = []
        self._size = 0
        self._oldest: datetime | None = None
        self._seen: set[bytes] = set()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # --- the hook moto calls ------------------------------------------------------------------
    def put_records(self, stream: str, records: list[bytes]) -> list[dict[str, str]]:
        """Buffer the records (refusing the injected share); deliver when the size hint is hit."""
        responses: list[dict[str, str]] = []
        with self._lock:
            for data in records:
                if self._refuse(data):
                    self.stats.refused += 1
                    responses.append(
                        {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
                    )
                    continue
                if self._oldest is None:
                    self._oldest = datetime.now(UTC)
                self._records.append(data)
                self._size += len(data)
                self.stats.accepted += 1
                responses.append({"RecordId": uuid.uuid4().hex})
            if self._size >= self.hints.size_mib * MIB:
                self.flush()
        return responses

    def _refuse(self, data: bytes) -> bool:
        if self.failure_rate <= 0:
            return False
        digest = hashlib.sha256(data).digest()
        if digest in self._seen:
            return False
        self._seen.add(digest)
        return int.from_bytes(digest[:8], "big") / 2**64 < self.failure_rate

    # --- delivery -----------------------------------------------------------------------------
    def flush(self) -> Path | None:
        """Write the buffered records as one object now; None when the buffer is empty."""
        with self._lock:
            if not self._records or self._oldest is None:
                return None
            arrived = self._oldest
            key = (
                f"{arrived:%Y/%m/%d/%H}/{self.name}-{self.version}-"
                f"{arrived:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"
            )
            target = self.landing / key
            self.staging.mkdir(parents=True, exist_ok=True)
            partial = self.staging / f"{uuid.uuid4().hex}.gz.partial"
            try:
                # mtime 0 and no name: the object's bytes depend on its records alone.
                with (
                    partial.open("wb") as raw,
                    gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out,
                ):
                    for data in self._records:
                        out.write(data)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(partial, target)  # atomic on one file system: whole or absent
            except OSError:
                partial.unlink(missing_ok=True)
                raise
            self.stats.objects += 1
            self.stats.records_written += len(self._records)
            self.stats.written.append(target)
            self._records, self._size, self._oldest = [], 0, None
            return target

    def _due(self) -> bool:
        with self._lock:
            if self._oldest is None:
                return False
            age = (datetime.now(UTC) - self._oldest).total_seconds()
            return age >= self.hints.interval_seconds

    def _watch(self) -> None:
        tick = min(1.0, max(0.05, self.hints.interval_seconds / 10))
        while not self._stop.wait(tick):
            if self._due():
                try:
                    self.flush()
                except OSError:  # a full disk, say: the records stay buffered for the next try
                    LOG.exception("delivery stream %s could not write an object", self.name)

    def pending(self) -> int:
        """Records buffered, not yet in an object."""
        with self._lock:
            return len(self._records)

    # --- lifetime -----------------------------------------------------------------------------
    def __enter__(self) -> LocalDeliveryStream:
        self._stop.clear()
        name = f"firehose-{self.name}"
        self._timer = threading.Thread(target=self._watch, name=name, daemon=True)
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=10)
        self.flush()
