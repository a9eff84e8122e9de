"""Bronze on what Firehose writes beside the exports: gzip'd JSON Lines under date folders."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.bronze.ingest import read_lines
from jobs.common.contracts import load_contracts_dir
from jobs.common.lake import LakeFiles

CONTRACT = load_contracts_dir(Path(__file__).resolve().parents[3] / "contracts")["order_lines"]
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
LINE = {
    "InvoiceNo": "536365", "StockCode": "85123A", "Description": "MUG, WHITE", "Quantity": "6",
    "InvoiceDate": "12/1/2010 8:26", "UnitPrice": "2.55", "CustomerID": "17850",
    "Country": "France",
}  # fmt: skip


def event(event_id: str, sent_at: str, **changes: str) -> bytes:
    """One record as the producer sends it: a JSON object and its line end."""
    body = {"event_id": event_id, **LINE, **changes, "sent_at": sent_at}
    return json.dumps(body, ensure_ascii=False).encode() + b"\n"


def test_exports_and_stream_objects_become_one_batch_every_record_a_row(
    spark: SparkSession, tmp_path: Path
) -> None:
    landing = tmp_path / "order_lines"
    hour = landing / "stream" / "2026" / "12" / "02" / "07"
    hour.mkdir(parents=True)
    (landing / "export 1.csv").write_text(f"{HEADER}\n536366,22633,HAND WARMER,6,12/1/2010 8:28,"
                                          "1.85,17850,France\n")  # fmt: skip
    first = event("e1", "2026-12-02T07:15:03.000001+00:00")
    # Firehose concatenates the records of a buffer into one object and gzips it: the same
    # event twice (a retry), a line sent raw (fields not matching the header), a JSON object
    # without Quantity, and a value with a non-ASCII letter.
    records = [
        first,
        event("e1", "2026-12-02T07:15:04.000001+00:00"),
        b"536367,22634,ONLY,THREE\n",
        json.dumps({k: v for k, v in json.loads(first).items() if k != "Quantity"}).encode()
        + b"\n",
        event("e2", "2026-12-02T07:15:05.000001+00:00", Description="CAFÉ MUG"),
    ]
    name = "medallion-orders-1-2026-12-02-07-15-03-0a1b 2c3d.gz"
    (hour / name).write_bytes(gzip.compress(b"".join(records)))
    files = LakeFiles(spark)
    found = files.list_files(str(landing))
    streamed = {f.path for f in files.list_files(str(landing / "stream"))}
    assert len(found) == 2 and len(streamed) == 1

    frame, columns = read_lines(spark, CONTRACT, found, streamed)
    rows = [r.asDict() for r in frame.orderBy("_ingest_file", "_ingest_line").collect()]

    [export, *events] = rows
    assert export["InvoiceNo"] == "536366" and export["event_id"] is None
    assert export["_corrupt_record"] is None
    assert [r["_ingest_line"] for r in events] == [1, 2, 3, 4, 5]
    assert all(r["_ingest_file"].endswith("/stream/2026/12/02/07/" + name) for r in events)
    assert [r["event_id"] for r in events] == ["e1", "e1", None, "e1", "e2"]
    assert events[1]["sent_at"] == "2026-12-02T07:15:04.000001+00:00"
    assert events[0]["Description"] == "MUG, WHITE" and events[4]["Description"] == "CAFÉ MUG"
    assert [r["_corrupt_reason"] for r in events] == [
        None, None, "record is not a JSON object", "record lacks field(s) Quantity", None,
    ]  # fmt: skip
    assert events[2]["_corrupt_record"] == "536367,22634,ONLY,THREE"
    assert events[3]["_corrupt_record"] == json.loads(json.dumps(records[3].decode().strip()))
    # The manifest's columns of the object: the source columns, without the stream's own.
    assert columns[next(iter(streamed))] == sorted(CONTRACT.source_columns)
