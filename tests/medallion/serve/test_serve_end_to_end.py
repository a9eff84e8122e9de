"""``medallion serve`` end to end, as a user types it: a stream in, a run started with the AWS CLI,
the answers read back through the endpoint.

One server (a subprocess on a free port, a temporary lake) refuses a fifth of the Firehose records
the first time it sees them (``--firehose-failure-rate``); ``medallion stream`` sends the order
lines of a generated export, then sends them all again with its checkpoint removed (a producer
that lost its checkpoint: every event a duplicate by id). ``aws stepfunctions start-execution``
then runs the pipeline and ``aws stepfunctions describe-execution`` follows it. Checked apart from
the product's code: the records in the landing objects (read with gzip), bronze's rows, silver's
lines against the export, the ledger's duplicates, and the daily net revenue ``aws athena``
returns against pandas on the export.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from medallion.sample.generate import generate

BIN = Path(sys.executable).parent
REGION = "us-east-1"
STREAM = "medallion-local-orders"
ORDER_LINES = 400
SEED = 11
FAILURE_RATE = 0.2
CENT = Decimal("0.01")
RUNNING = ("QUEUED", "RUNNING")
# Firehose's key: YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz
OBJECT_KEY = re.compile(rf"\d{{4}}/\d\d/\d\d/\d\d/{STREAM}-1-[\d-]{{19}}-[0-9a-f-]{{36}}\.gz")


@dataclass
class Served:
    url: str
    arn: str
    lake: Path
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MEDALLION_"))}
    return env | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        # alerts (none expected) go to a port nothing listens on; the copy in the lake says so
        "MEDALLION_SMTP_PORT": "9",
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("serve")
    lake, log = tmp / "lake", tmp / "serve.log"
    env = _env(tmp)
    command = [str(BIN / "medallion"), "serve", "--lake", str(lake), "--port", "0",
               "--buffer-interval", "1", "--firehose-failure-rate", str(FAILURE_RATE)]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        banner = _wait_for(log, re.compile(r"listening on (http://127\.0\.0\.1:\d+)"), process)
        arn = re.search(r"state machine\s+(arn:aws:states:\S+)", log.read_text())
        assert arn, log.read_text()
        yield Served(banner.group(1), arn.group(1), lake, process, log, env)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for(
    log: Path, pattern: re.Pattern[str], process: subprocess.Popen[bytes]
) -> re.Match[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace"))
        if found:
            return found
        assert process.poll() is None, log.read_text()
        time.sleep(0.2)
    raise AssertionError(f"medallion serve did not start: {log.read_text()}")


def run(served: Served, *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command, env=served.env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done


def aws(served: Served, *args: str) -> dict:
    done = run(served, str(BIN / "aws"), "--endpoint-url", served.url, "--region", REGION, *args)
    return json.loads(done.stdout) if done.stdout.strip() else {}


def landed_records(lake: Path) -> list[str]:
    """Every record in the delivered objects, read with gzip apart from the product."""
    lines: list[str] = []
    for path in sorted((lake / "landing" / "order_lines" / "stream").rglob("*")):
        if path.is_file():
            key = str(path.relative_to(path.parents[4]))
            assert OBJECT_KEY.fullmatch(key), key
            lines += gzip.decompress(path.read_bytes()).decode().splitlines()
    return lines


def expected_daily_net_revenue(export: Path) -> dict[str, Decimal]:
    """sales_daily's net revenue per day from the export with pandas: per day and country, the
    sales' amounts and the cancellations' amounts each rounded half-up to the cent."""
    rows = pd.read_csv(export, dtype=str, keep_default_na=False)
    prices = zip(rows.Quantity, rows.UnitPrice, strict=True)
    rows["amount"] = [Decimal(q) * Decimal(p) for q, p in prices]
    rows["day"] = pd.to_datetime(rows.InvoiceDate, format="%m/%d/%Y %H:%M").dt.strftime("%Y-%m-%d")
    rows["cancelled"] = rows.InvoiceNo.str.startswith("C")
    out: dict[str, Decimal] = {}
    for (day, _, cancelled), group in rows.groupby(["day", "Country", "cancelled"]):
        value = abs(sum(group.amount, Decimal(0))).quantize(CENT, rounding=ROUND_HALF_UP)
        out[day] = out.get(day, Decimal(0)) + (-value if cancelled else value)
    return out


@pytest.mark.slow
def test_a_run_on_the_served_lake_is_refused_while_serve_holds_it(
    served: Served, tmp_path: Path
) -> None:
    """Serve's executions write to its lake: ``medallion run`` on it is refused at once, in one
    line naming the holder, and starts nothing. Before the test that stops serve."""
    landing = tmp_path / "landing"
    landing.mkdir()
    done = subprocess.run(
        [str(BIN / "medallion"), "run", "--lake", str(served.lake), "--landing", str(landing)],
        capture_output=True, text=True, env=served.env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert f"process {served.process.pid}, medallion serve, since" in said, said
    assert "Traceback" not in said
    assert served.process.poll() is None  # serve goes on


def test_a_stream_then_a_run_started_with_the_aws_cli(served: Served, tmp_path: Path) -> None:
    generate(tmp_path / "export", ORDER_LINES, SEED, defects=False)
    export = tmp_path / "export" / "order_lines" / "order_lines.csv"
    events = len(pd.read_csv(export, dtype=str))
    checkpoint = tmp_path / "producer.checkpoint"
    stream = [str(BIN / "medallion"), "stream", "--endpoint-url", served.url, "--region", REGION,
              "--stream", STREAM, "--source", str(export),
              "--checkpoint", str(checkpoint)]  # fmt: skip

    # 1. Every event acknowledged, some only after the endpoint refused them once.
    first = run(served, *stream).stdout
    assert f"{events:,} events acknowledged" in first and " 0 failed" in first, first
    retried = int(re.search(r"([\d,]+) sent again", first).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 0 < retried < events, first
    # 2. The producer lost its checkpoint and sends everything again: duplicates by event id.
    checkpoint.unlink()
    again = run(served, *stream).stdout
    assert f"{events:,} events acknowledged" in again, again

    # The buffer is written within its interval: every acknowledged record, in whole objects.
    deadline = time.monotonic() + 30
    while len(records := landed_records(served.lake)) < 2 * events and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(records) == 2 * events
    ids = [json.loads(r)["event_id"] for r in records]
    assert len(set(ids)) == events

    # 3. A run started and followed with the AWS CLI.
    started = aws(served, "stepfunctions", "start-execution", "--state-machine-arn", served.arn,
                  "--name", "stream-run-1", "--input", "{}")  # fmt: skip
    deadline = time.monotonic() + 300
    while (described := aws(served, "stepfunctions", "describe-execution", "--execution-arn",
                            started["executionArn"]))["status"] == "RUNNING":  # fmt: skip
        assert time.monotonic() < deadline, described
        time.sleep(2)
    assert described["status"] == "SUCCEEDED", (described, served.log.read_text()[-3000:])
    listed = aws(served, "stepfunctions", "list-executions", "--state-machine-arn", served.arn)
    assert [e["name"] for e in listed["executions"]] == ["stream-run-1"]

    # Bronze holds every delivered record; silver exactly the export's lines, one per event.
    bronze = pd.read_parquet(served.lake / "bronze" / "order_lines")
    assert len(bronze) == len(records)
    assert sorted(bronze.event_id) == sorted(ids)
    silver = pd.read_parquet(served.lake / "silver" / "order_lines")
    assert len(silver) == events and silver.event_id.nunique() == events
    exported = pd.read_csv(export, dtype=str, keep_default_na=False)
    assert sorted(silver.invoice_no) == sorted(exported.InvoiceNo)

    # The Glue catalog lists what the crawlers registered.
    tables = aws(served, "glue", "get-tables", "--database-name", "silver")["TableList"]
    assert "order_lines" in {t["Name"] for t in tables}
    partitions = aws(served, "glue", "get-partitions", "--database-name", "silver",
                     "--table-name", "order_lines")["Partitions"]  # fmt: skip
    days = silver[["year", "month", "day"]].astype(str).drop_duplicates()
    assert sorted(p["Values"] for p in partitions) == sorted(days.values.tolist())

    # The ledger counts the duplicates (medallion query --aws through the endpoint).
    ledger = run(served, str(BIN / "medallion"), "query", "--aws", "--endpoint-url", served.url,
                 "--region", REGION, "--workgroup", "medallion-local", "--format", "json",
                 "select rows_in, rows_clean, rows_quarantined, rows_duplicate, "
                 "rows_duplicate_event, is_balanced from v_run_ledger "
                 "where dataset = 'order_lines'")  # fmt: skip
    assert json.loads(ledger.stdout) == [
        {"rows_in": 2 * events, "rows_clean": events, "rows_quarantined": 0,
         "rows_duplicate": events, "rows_duplicate_event": events, "is_balanced": True}
    ]  # fmt: skip

    # Athena through the endpoint: the daily net revenue against pandas on the export.
    query = aws(served, "athena", "start-query-execution", "--work-group", "medallion-local",
                "--query-execution-context", "Database=gold", "--query-string",
                "select cast(sales_date as varchar) as day, sum(net_revenue) as net "
                "from sales_daily group by 1 order by 1")  # fmt: skip
    query_id = query["QueryExecutionId"]
    get = ("athena", "get-query-execution", "--query-execution-id", query_id)
    while (state := aws(served, *get)["QueryExecution"]["Status"]["State"]) in RUNNING:
        time.sleep(0.2)
    assert state == "SUCCEEDED"
    result = aws(served, "athena", "get-query-results", "--query-execution-id", query_id)
    table = [[c.get("VarCharValue") for c in r["Data"]] for r in result["ResultSet"]["Rows"]]
    header, *rows = table
    assert header == ["day", "net"]
    got = {day: Decimal(net).quantize(CENT) for day, net in rows}
    assert got == expected_daily_net_revenue(export)

    # Stopped with SIGTERM: clean exit, nothing left in the buffer.
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=90) == 0, served.log.read_text()[-2000:]
    assert "stopped; medallion-local-orders wrote" in served.log.read_text()
    assert len(landed_records(served.lake)) == 2 * events
