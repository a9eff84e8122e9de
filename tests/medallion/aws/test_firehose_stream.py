"""``medallion stream`` against moto's Firehose served on 127.0.0.1, with records refused.

The stand-in is stricter than moto alone: moto accepts every record, so the server here refuses
a fifth of the records the first time it sees them (``ServiceUnavailableException`` in the
record's response, the record not delivered), as Firehose does under load. What reaches the
bucket is read back from the S3 objects, not from the producer's counts.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.firehose.models import FirehoseBackend
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from medallion.cli import app
from medallion.sample.generate import generate

REGION = "us-east-1"
BUCKET = "lake-example"
STREAM = "orders-example"
runner = CliRunner()


class FlakyFirehose:
    """Refuses each record whose id hashes into ``share`` the first time it is sent (or every
    time, with ``always``), and counts what it refused."""

    def __init__(self) -> None:
        self.share = 5
        self.always = False
        self.seen: set[bytes] = set()
        self.refused = 0
        self.lock = threading.Lock()

    def refuse(self, data: bytes) -> bool:
        with self.lock:
            first = data not in self.seen
            self.seen.add(data)
            refused = self.always or (first and hashlib.sha256(data).digest()[0] % self.share == 0)
            self.refused += refused
            return refused


@pytest.fixture(scope="module")
def flaky() -> Iterator[FlakyFirehose]:
    state = FlakyFirehose()
    original = FirehoseBackend.put_record_batch

    def put_record_batch(self: Any, name: str, records: list[dict[str, bytes]]) -> dict:
        refused = [state.refuse(_event_key(r["Data"])) for r in records]
        taken = [r for r, no in zip(records, refused, strict=True) if not no]
        answer = original(self, name, taken) if taken else {"RequestResponses": []}
        accepted = iter(answer["RequestResponses"])
        responses = [
            {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}
            if no
            else next(accepted)
            for no in refused
        ]
        return {"FailedPutCount": sum(refused), "Encrypted": False, "RequestResponses": responses}

    FirehoseBackend.put_record_batch = put_record_batch  # type: ignore[method-assign]
    yield state
    FirehoseBackend.put_record_batch = original  # type: ignore[method-assign]


def _event_key(data: bytes) -> bytes:
    """A record's event id (a retried record is the same event, whatever its sent_at), or the
    record itself when it is not an event (a malformed line sent as it is)."""
    try:
        return json.loads(data)["event_id"].encode()
    except ValueError:
        return data


@pytest.fixture(scope="module")
def endpoint(flaky: FlakyFirehose) -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch, endpoint: str, flaky: FlakyFirehose) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    firehose = boto3.client("firehose", region_name=REGION, endpoint_url=endpoint)
    for name in firehose.list_delivery_streams()["DeliveryStreamNames"]:
        firehose.delete_delivery_stream(DeliveryStreamName=name)
    if BUCKET in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    else:
        s3.create_bucket(Bucket=BUCKET)
    firehose.create_delivery_stream(
        DeliveryStreamName=STREAM,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose-example",
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "Prefix": "landing/order_lines/stream/",
        },
    )
    flaky.always, flaky.refused = False, 0
    flaky.seen.clear()


def records(endpoint: str) -> list[str]:
    """Every record in the bucket: one line of an object Firehose wrote."""
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    lines = []
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        body = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode()
        lines += [line for line in body.splitlines() if line]
    return lines


def delivered(endpoint: str) -> list[dict]:
    """The events in the bucket (the JSON records)."""
    return [json.loads(line) for line in records(endpoint) if line.startswith("{")]


def export_rows(tmp_path: Path, lines: int, seed: int) -> tuple[list[dict], list[list[str]]]:
    """The generated order_lines export read with the csv module, apart from the producer: the
    rows as header -> value, and the rows whose fields do not match the header."""
    generate(tmp_path / "expected", lines, seed)
    path = tmp_path / "expected" / "order_lines" / "order_lines.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    good = [dict(zip(header, row, strict=True)) for row in rows if len(row) == len(header)]
    return good, [row for row in rows if len(row) != len(header)]


def test_every_line_arrives_once_though_a_fifth_is_refused_at_first(
    endpoint: str, flaky: FlakyFirehose, tmp_path: Path
) -> None:
    args = ["stream", "--stream", STREAM, "--order-lines", "1200", "--seed", "5"]
    result = runner.invoke(app, [*args, "--endpoint-url", endpoint, "--region", REGION])
    assert result.exit_code == 0, result.output
    events = delivered(endpoint)
    rows, ragged = export_rows(tmp_path, 1200, 5)
    assert ragged, "the generated export has lines whose fields do not match its header"
    assert len(events) == len(rows)  # nothing lost, nothing twice
    assert len({e["event_id"] for e in events}) == len(rows)
    strip = ("event_id", "sent_at")
    got = sorted(json.dumps({k: v for k, v in e.items() if k not in strip}) for e in events)
    assert got == sorted(json.dumps(row) for row in rows)
    malformed = sorted(next(csv.reader([line])) for line in records(endpoint) if line[0] != "{")
    assert malformed == sorted(ragged)
    assert 150 < flaky.refused < 350
    assert f"{flaky.refused:,} sent again, 0 failed" in result.stdout
    assert f"{len(rows) + len(ragged):,} events acknowledged ({len(ragged)} lines" in result.stdout


def test_a_producer_killed_mid_stream_resumes_and_loses_no_event(
    endpoint: str, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "checkpoint.json"
    command = [
        sys.executable, "-c", "from medallion.cli import app; app(prog_name='medallion')",
        "stream", "--stream", STREAM, "--order-lines", "3000", "--seed", "9", "--rate", "1000",
        "--checkpoint", str(checkpoint), "--endpoint-url", endpoint, "--region", REGION,
    ]  # fmt: skip
    producer = subprocess.Popen(command, start_new_session=True, env=os.environ.copy())
    deadline = time.monotonic() + 240
    while not checkpoint.exists() or json.loads(checkpoint.read_text())["acknowledged"] < 1000:
        assert producer.poll() is None, "the producer ended before it was killed"
        assert time.monotonic() < deadline, "the producer acknowledged too little in 4 minutes"
        time.sleep(0.05)
    os.killpg(producer.pid, signal.SIGKILL)
    producer.wait(timeout=30)
    acknowledged = json.loads(checkpoint.read_text())["acknowledged"]
    assert 1000 <= acknowledged < 3000
    before = {_event_key(line.encode()) for line in records(endpoint)}
    assert len(before) >= acknowledged  # every acknowledged record is in the bucket already

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"resumed after {acknowledged:,} acknowledged before" in again.stdout
    events = delivered(endpoint)
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(export_rows(tmp_path, 3000, 9)[0])
    # only the batch in flight at the kill can be sent twice; silver removes those by event id
    assert len(ids) - len(set(ids)) <= 500
    assert before <= {_event_key(line.encode()) for line in records(endpoint)}


def test_records_refused_for_good_stop_the_stream_and_keep_its_checkpoint(
    endpoint: str, flaky: FlakyFirehose, tmp_path: Path
) -> None:
    flaky.always = True
    checkpoint = tmp_path / "checkpoint.json"
    result = runner.invoke(
        app,
        ["stream", "--stream", STREAM, "--order-lines", "50", "--max-attempts", "2",
         "--checkpoint", str(checkpoint), "--endpoint-url", endpoint, "--region", REGION],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "events stayed unacknowledged after 2 attempts (ServiceUnavailableException x" in (
        result.output
    )
    assert "Traceback" not in result.output
    assert not checkpoint.exists() or json.loads(checkpoint.read_text())["acknowledged"] == 0
    assert delivered(endpoint) == []


def test_an_unknown_stream_is_one_line(endpoint: str) -> None:
    result = runner.invoke(
        app,
        ["stream", "--stream", "nope", "--order-lines", "5", "--endpoint-url", endpoint,
         "--region", REGION],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert result.output.startswith("error: delivery stream nope: ResourceNotFoundException: ")
    assert len(result.output.strip().splitlines()) == 1


def _stack(endpoint: str, env: str, outputs: dict[str, str]) -> None:
    """A stack ``medallion-<env>`` with these outputs. moto's CloudFormation cannot create a
    delivery stream, so the stack holds a topic and names the test's stream as a literal."""
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint)
    cloudformation.create_stack(StackName=f"medallion-{env}", TemplateBody=json.dumps(template))


def test_env_sends_to_its_stacks_order_stream_and_says_what_is_missing(
    endpoint: str, tmp_path: Path
) -> None:
    _stack(endpoint, "withstream", {"OrderStreamName": STREAM, "LakeBucketName": BUCKET})
    _stack(endpoint, "nostream", {"LakeBucketName": BUCKET})
    aws = ["--endpoint-url", endpoint, "--region", REGION]

    sent = runner.invoke(app, ["stream", "--env", "withstream", "--order-lines", "40", *aws])
    assert sent.exit_code == 0, sent.output
    assert sent.stdout.startswith(f"{STREAM}: ")
    good, ragged = export_rows(tmp_path, 40, 42)  # the command's default seed
    assert len(records(endpoint)) == len(good) + len(ragged)

    without = runner.invoke(app, ["stream", "--env", "nostream", "--order-lines", "5", *aws])
    assert without.exit_code == 3, without.output
    assert without.output.strip() == (
        "error: stack medallion-nostream has no order stream (no OrderStreamName output): "
        "deploy it with `medallion deploy --env nostream -p OrderStreamEnabled=true`, or pass "
        "--stream"
    )
    missing = runner.invoke(app, ["stream", "--env", "nowhere", "--order-lines", "5", *aws])
    assert missing.exit_code == 3, missing.output
    assert missing.output.startswith("error: stack medallion-nowhere does not exist")
    unset = {"MEDALLION_ENV": None, "MEDALLION_DELIVERY_STREAM": None}
    neither = runner.invoke(app, ["stream", "--order-lines", "5", *aws], env=unset)
    assert neither.exit_code == 2, neither.output
    assert "no stream: pass --stream NAME, or --env ENV" in neither.output
    assert len(records(endpoint)) == len(good) + len(ragged)
