"""The local delivery stream's Firehose semantics, and what ``medallion serve`` refuses at start."""

from __future__ import annotations

import gzip
import os
import socket
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from medallion.cli.app import app
from medallion.serve.delivery import MIB, BufferHints, LocalDeliveryStream

runner = CliRunner()


def stream(
    tmp_path: Path, size_mib: float = 5, interval: float = 60, rate: float = 0
) -> LocalDeliveryStream:
    return LocalDeliveryStream(
        "orders", tmp_path / "landing", tmp_path / "staging", BufferHints(size_mib, interval), rate
    )


def objects(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "landing").rglob("*") if p.is_file())


def test_an_object_is_written_when_the_buffer_reaches_the_size_hint(tmp_path: Path) -> None:
    delivery = stream(tmp_path, size_mib=1000 / MIB)  # 1,000 bytes
    records = [f'{{"n": {i:03d}, "pad": "{"x" * 78}"}}\n'.encode() for i in range(30)]
    assert {len(r) for r in records} == {100}
    for record in records[:9]:  # 900 bytes: below the hint
        delivery.put_records("orders", [record])
    assert objects(tmp_path) == [] and delivery.pending() == 9
    delivery.put_records("orders", records[9:11])  # 1,100 bytes: over it
    [first] = objects(tmp_path)
    # The records' bytes concatenated as sent, gzip'd, under Firehose's hour prefix.
    assert gzip.decompress(first.read_bytes()) == b"".join(records[:11])
    assert first.name.startswith("orders-1-") and first.suffix == ".gz"
    assert len(first.relative_to(tmp_path / "landing").parts) == 5  # YYYY/MM/DD/HH/name
    assert delivery.pending() == 0


def test_an_object_is_written_when_the_interval_passes_and_on_close(tmp_path: Path) -> None:
    with stream(tmp_path, interval=0.5) as delivery:
        delivery.put_records("orders", [b"a\n", b"b\n"])
        assert objects(tmp_path) == []
        deadline = time.monotonic() + 10
        while not objects(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        [first] = objects(tmp_path)
        assert gzip.decompress(first.read_bytes()) == b"a\nb\n"
    with stream(tmp_path, interval=600) as delivery:
        delivery.put_records("orders", [b"c\n"])
    # Closing (serve stopping) writes what is buffered, however young.
    assert len(objects(tmp_path)) == 2
    assert b"".join(gzip.decompress(p.read_bytes()) for p in objects(tmp_path)) in (
        b"a\nb\nc\n",
        b"c\na\nb\n",
    )


def test_an_object_that_cannot_be_written_leaves_nothing_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = stream(tmp_path)
    delivery.put_records("orders", [b"a\n", b"b\n"])

    def disk_full(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", disk_full)
        with pytest.raises(OSError):
            delivery.flush()
    assert objects(tmp_path) == [] and list((tmp_path / "staging").iterdir()) == []
    assert delivery.pending() == 2  # kept for the next flush
    path = delivery.flush()
    assert path is not None and gzip.decompress(path.read_bytes()) == b"a\nb\n"


def test_the_failure_rate_refuses_records_once(tmp_path: Path) -> None:
    delivery = stream(tmp_path, rate=0.3)
    records = [f"record {i}\n".encode() for i in range(1000)]
    first = delivery.put_records("orders", records)
    refused = [r for r, answer in zip(records, first, strict=True) if "ErrorCode" in answer]
    assert {a["ErrorCode"] for a in first if "ErrorCode" in a} == {"ServiceUnavailableException"}
    assert 230 < len(refused) < 370  # 30 % of 1,000, give or take three standard deviations
    again = delivery.put_records("orders", refused)
    assert all("RecordId" in answer for answer in again)
    assert delivery.pending() == 1000 and delivery.stats.refused == len(refused)


def test_serve_listens_on_127_0_0_1_only() -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "listens on 127.0.0.1 only, not 0.0.0.0" in result.output


def test_serve_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--lake", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} on 127.0.0.1 is taken" in result.output and "--port 0" in result.output


def test_moto_firehose_hands_records_to_the_stream_and_reports_refusals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto import mock_aws

    from medallion.local import moto_patches

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    delivery = stream(tmp_path, rate=0.5)
    moto_patches.install(None, firehose=delivery)
    try:
        with mock_aws():
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="lake")
            firehose = boto3.client("firehose", region_name="us-east-1")
            firehose.create_delivery_stream(
                DeliveryStreamName="orders",
                ExtendedS3DestinationConfiguration={
                    "RoleARN": "arn:aws:iam::123456789012:role/firehose-example",
                    "BucketARN": "arn:aws:s3:::lake",
                },
            )
            records = [{"Data": f"event {i}\n".encode()} for i in range(40)]
            answer = firehose.put_record_batch(DeliveryStreamName="orders", Records=records)
            failed = [r for r in answer["RequestResponses"] if "ErrorCode" in r]
            assert answer["FailedPutCount"] == len(failed) == delivery.stats.refused > 0
            assert delivery.pending() == 40 - len(failed)
            # A refused PutRecord fails as a whole; sent again, it is taken.
            refused = next(
                r for r in (f"single {i}\n".encode() for i in range(100)) if delivery._refuse(r)
            )
            delivery._seen.clear()
            with pytest.raises(ClientError, match="ServiceUnavailableException"):
                firehose.put_record(DeliveryStreamName="orders", Record={"Data": refused})
            firehose.put_record(DeliveryStreamName="orders", Record={"Data": refused})
            assert delivery.flush() is not None
            landed = gzip.decompress(objects(tmp_path)[0].read_bytes())
            assert landed.endswith(refused) and landed.count(b"\n") == 41 - len(failed)
            assert (
                boto3.client("s3", region_name="us-east-1")
                .list_objects_v2(Bucket="lake")
                .get("KeyCount")
                == 0
            )  # nothing went to moto's S3
    finally:
        moto_patches.uninstall()


def test_serve_on_a_lake_a_run_holds_is_one_line(tmp_path: Path) -> None:
    """The lake a ``medallion run`` holds is not served: its jobs would write beside the run's."""
    from medallion.local.lakelock import lake_held

    with lake_held(tmp_path, "r1"):
        result = runner.invoke(app, ["serve", "--lake", str(tmp_path), "--port", "0"])
    assert result.exit_code == 1, result.output  # as a run on a held lake (medallion.cli.errors)
    assert f"in use by another run (process {os.getpid()}, run r1, since" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
