"""Orders streamed beside a CSV export, through `medallion run`: each event counted once.

The landing holds an order_lines export made by the sample generator and, under
``stream/YYYY/MM/DD/HH/``, gzip'd objects of concatenated records as Firehose writes them, made
from the rest of the generator's order lines by the producer's own event encoding
(``medallion.aws.firehose``): events sent twice with a new ``sent_at`` (a retried batch), one
delivered twice as the same bytes (at-least-once delivery), a line the producer sends raw (its
fields do not match the header), and, in a second run, copies of events silver already holds.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from medallion.aws.firehose import Event, read_events
from medallion.sample.generate import generate

pytestmark = pytest.mark.slow

MEDALLION = str(Path(sys.executable).with_name("medallion"))
SENT = "2026-12-02T07:{minute:02d}:{second:02d}.000001+00:00"
CENTS = Decimal("0.01")
RAW_LINE = "581999,22633,TOO FEW FIELDS"  # the producer sends it as it is: a malformed record


def medallion(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MEDALLION, *args], cwd=cwd, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def firehose_object(folder: Path, name: str, records: list[bytes]) -> None:
    """One delivered object: the buffer's records concatenated, gzip'd, under the hour's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(b"".join(records)))


def sent(event: Event, second: int, minute: int = 15) -> bytes:
    return event.record(SENT.format(minute=minute, second=second))


def event_ids(events: list[Event]) -> list[str]:
    return sorted(e.event_id for e in events if e.event_id is not None)


def silver_lines(lake: Path) -> pd.DataFrame:
    return duckdb.sql(
        f"select * from read_parquet('{lake}/silver/order_lines/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true)"
    ).df()


def summary(lake: Path, run_id: str) -> dict[str, int]:
    [path] = (lake / "quality" / "runs" / "dataset=order_lines" / f"run_id={run_id}").glob("*.json")
    return json.loads(path.read_text())


def expected_sales(lines: pd.DataFrame) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """Gross and cancelled value per day and country from the source lines, in exact decimals
    (an invoice starting with C is a cancellation, its value counted positive), each rounded
    half up to the cent."""
    totals: dict[tuple[str, str], list[Decimal]] = {}
    for row in lines.itertuples():
        day = pd.to_datetime(row.InvoiceDate, format="%m/%d/%Y %H:%M").date().isoformat()
        amount = Decimal(row.Quantity) * Decimal(row.UnitPrice)
        sums = totals.setdefault((day, row.Country), [Decimal(0), Decimal(0)])
        if row.InvoiceNo.startswith("C"):
            sums[1] += abs(amount)
        else:
            sums[0] += amount
    return {
        key: (gross.quantize(CENTS, ROUND_HALF_UP), cancelled.quantize(CENTS, ROUND_HALF_UP))
        for key, (gross, cancelled) in totals.items()
    }


def test_streamed_events_reach_silver_once_and_gold_counts_each_line_once(
    tmp_path: Path,
) -> None:
    generate(tmp_path / "generated", 300, 13, defects=False)
    with (tmp_path / "generated" / "order_lines" / "order_lines.csv").open(newline="") as handle:
        header, *lines = list(csv.reader(handle))
    exported, streamed = lines[:120], lines[120:]
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    (landing / "order_lines").mkdir(parents=True)
    with (landing / "order_lines" / "export 2026-12-01.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *exported])
    # The producer's input: the streamed lines with one whose fields do not match the header.
    source = tmp_path / "shop.csv"
    with source.open("w", newline="") as handle:
        csv.writer(handle).writerows([header, *streamed[:50], RAW_LINE.split(","), *streamed[50:]])
    _, events = read_events(source)
    good = [e for e in events if e.event_id is not None]
    [malformed] = [e for e in events if e.event_id is None]
    assert len(good) == len(streamed)
    first, later = good[:-20], good[-20:]

    hour = landing / "order_lines" / "stream" / "2026" / "12" / "02" / "07"
    records = [sent(e, 3) for e in first[:100]] + [sent(malformed, 3)]
    # A batch retried: 10 events sent again, each with a new sent_at.
    records += [sent(e, 9) for e in first[:10]]
    firehose_object(hour, "medallion-orders-1-2026-12-02-07-15-03-a1 b2.gz", records)
    # The next buffer, with one record of the first delivered again as the same bytes.
    firehose_object(
        hour,
        "medallion-orders-1-2026-12-02-07-20-00-c3d4.gz",
        [sent(e, 0, 20) for e in first[100:]] + [sent(first[5], 3)],
    )
    run = medallion("run", "--landing", str(landing), "--lake", str(lake), "--run-id", "s1",
                    cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    silver = silver_lines(lake)
    ids = silver["event_id"].dropna()
    assert sorted(ids) == event_ids(first) and ids.is_unique
    # Each event's line is the copy sent first (the retry's sent_at is later).
    retried = silver[silver["event_id"].isin([e.event_id for e in first[:10]])]
    assert set(retried["sent_at"].astype(str)) == {"2026-12-02 07:15:03.000001"}
    assert silver["event_id"].isna().sum() == len(exported)
    one = summary(lake, "s1")
    bronze_in = len(exported) + len(records) + len(first) - 100 + 1
    assert one["rows_in"] == bronze_in
    assert (one["rows_quarantined"], one["rows_duplicate"], one["rows_duplicate_event"]) == (
        1, 11, 11,
    )  # fmt: skip
    assert one["rows_silver"] == len(exported) + len(first) == len(silver)
    assert "by event id" in run.stdout and "RAW" not in run.stdout
    quarantine = duckdb.sql(
        f"select _corrupt_record, dq_reasons from read_parquet("
        f"'{lake}/quarantine/order_lines/**/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert len(quarantine) == 1 and quarantine[0][0] == RAW_LINE
    assert "record is not a JSON object" in str(quarantine[0][1])

    # A later hour: the rest of the events, and copies of five silver already holds (a
    # producer restarted from its checkpoint sends again what it sent after the last one).
    firehose_object(
        landing / "order_lines" / "stream" / "2026" / "12" / "02" / "08",
        "medallion-orders-1-2026-12-02-08-00-00-e5f6.gz",
        [sent(e, 1, 0) for e in later] + [sent(e, 30, 59) for e in first[40:45]],
    )
    rerun = medallion("run", "--landing", str(landing), "--lake", str(lake), "--run-id", "s2",
                      cwd=tmp_path)  # fmt: skip
    assert rerun.returncode == 0, rerun.stdout[-4000:] + rerun.stderr[-4000:]
    two = summary(lake, "s2")
    assert (two["rows_in"], two["rows_silver"], two["rows_duplicate"]) == (25, 20, 5)
    assert two["rows_duplicate_event"] == 5 and two["rows_quarantined"] == 0

    silver = silver_lines(lake)
    assert sorted(silver["event_id"].dropna()) == event_ids(good)
    # Silver holds each source line once: the export's and every event's.
    columns = ["invoice_no", "stock_code", "quantity", "unit_price", "country"]
    got = Counter(
        (invoice, stock, int(quantity), Decimal(str(price)).quantize(CENTS), country)
        for invoice, stock, quantity, price, country in silver[columns].itertuples(index=False)
    )
    want = Counter((r[0], r[1], int(r[3]), Decimal(r[5]).quantize(CENTS), r[7]) for r in lines)
    assert got == want
    source_lines = pd.DataFrame(lines, columns=header)
    gold = duckdb.sql(
        "select cast(sales_date as varchar), country, gross_revenue, cancelled_value from "
        f"read_parquet('{lake}/gold/sales_daily/**/*.parquet', hive_partitioning = true, "
        "union_by_name = true)"
    ).fetchall()
    got_sales = {(day, land): (Decimal(str(g)), Decimal(str(c))) for day, land, g, c in gold}
    assert got_sales == expected_sales(source_lines)
