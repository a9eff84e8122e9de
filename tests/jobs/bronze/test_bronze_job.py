"""The bronze Glue script end to end: encodings, empty files, the manifest and re-runs."""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import duckdb

from medallion.local.jobrunner import JobResult

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def write_landing(landing: Path) -> None:
    orders = landing / "order_lines"
    orders.mkdir(parents=True)
    lines = [HEADER, "536365,85123A,CAFÉ MUG,6,12/1/2010 8:26,2.55,17850,France", "bad,line"]
    (orders / "bom-crlf.csv").write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    (orders / "latin1.csv").write_bytes("\n".join(lines[:2]).encode("latin-1"))
    # A gzip'd export: its header is read through the codec, as its lines are.
    (orders / "exported.csv.gz").write_bytes(gzip.compress("\n".join(lines[:2]).encode()))
    # Not text: refused whole, recorded with the reason, no line of them read.
    (orders / "Online Retail.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    (orders / "unicode-text.txt").write_bytes("\n".join(lines[:2]).encode("utf-16"))
    # Plain text under a .gz name: its codec refuses it, as Spark's read would, failing the job.
    (orders / "not gzip.csv.gz").write_text("\n".join(lines[:2]))
    (orders / "empty.csv").write_bytes(b"")
    (orders / "header-only.csv").write_text(HEADER + "\n")


def manifest(lake: Path) -> dict[str, dict]:
    entries = [
        json.loads(line)
        for path in (lake / "_meta" / "ingested" / "order_lines").glob("*.json")
        for line in path.read_text().splitlines()
    ]
    return {Path(e["path"]).name: e for e in entries}


def test_bronze_keeps_every_line_records_every_file_and_ingests_once(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_landing(landing)
    options = {"lake_root": str(lake), "run_id": "r1", "landing_root": str(landing)}
    first = job_runner("bronze", options)
    assert first.state == "SUCCEEDED", first.error_message
    assert first.summary["absent"] == ["customers", "products", "inventory", "reviews"]
    files = manifest(lake)
    assert {name: e["status"] for name, e in files.items()} == {
        "bom-crlf.csv": "ingested",
        "latin1.csv": "ingested",
        "exported.csv.gz": "ingested",
        "Online Retail.xlsx": "refused_not_text",
        "unicode-text.txt": "refused_not_text",
        "not gzip.csv.gz": "refused_unreadable",
        "empty.csv": "skipped_empty",
        "header-only.csv": "skipped_header_only",
    }
    assert "a spreadsheet workbook (.xlsx)" in files["Online Retail.xlsx"]["reason"]
    assert "UTF-16 text" in files["unicode-text.txt"]["reason"]
    assert files["not gzip.csv.gz"]["reason"] == (
        "unreadable: not a gzip file (read through the codec its .gz suffix names); "
        "if it is not .gz data, rename it without the .gz"
    )
    assert first.summary["datasets"]["order_lines"]["refused"] == {
        e["path"]: e["reason"] for e in files.values() if e["status"].startswith("refused_")
    }
    assert files["bom-crlf.csv"]["encoding"] == "UTF-8"
    assert files["latin1.csv"]["encoding"] == "ISO-8859-1"
    rows = duckdb.sql(
        f"select * from read_parquet('{lake}/bronze/order_lines/**/*.parquet', "
        "hive_partitioning = true) order by _ingest_file, _ingest_line"
    ).df()
    assert len(rows) == 4
    assert rows["Description"].tolist() == ["CAFÉ MUG", None, "CAFÉ MUG", "CAFÉ MUG"]
    assert rows["CustomerID"].tolist()[2] == "17850"  # the gzip'd file's, under its header
    assert rows["_corrupt_record"].tolist()[1] == "bad,line"
    assert set(rows["run_id"]) == {"r1"} and set(rows["_ingest_run_id"]) == {"r1"}

    # The run's notice (the state machine emails it): every file refused, with its reason.
    refused = first.summary["datasets"]["order_lines"]["refused"]
    told = notice_of(lake, "r1")
    assert (told["refused"], told["headline"]) == (3, "3 landing files not read")
    assert [(f["path"], f["reason"]) for f in told["files"]] == sorted(refused.items())
    assert all(f"{path}\n  {reason}" in told["text"] for path, reason in refused.items())

    again = job_runner("bronze", {**options, "run_id": "r2"})
    assert again.state == "SUCCEEDED"
    assert again.summary["datasets"]["order_lines"]["files_new"] == 0
    assert not list((lake / "bronze" / "order_lines").glob("*/run_id=r2"))
    assert notice_of(lake, "r2")["refused"] == 0

    # A re-run of r1 finds one new file: its notice still tells what r1's first attempt refused
    # (those files are not new to it), so a retried run is emailed them all the same; a notice
    # cut short by a kill mid-write does not stop it (the manifest has those files).
    path = lake / "_meta" / "notices" / "r1" / "bronze.json"
    path.write_text(path.read_text()[:40])
    (landing / "order_lines" / "late.csv").write_text(
        HEADER + "\n536366,22633,MUG,1,12/1/2010 9:00,1.85,,UK\n"
    )
    retry = job_runner("bronze", options)
    assert retry.state == "SUCCEEDED", retry.error_message
    assert retry.summary["datasets"]["order_lines"]["batch"] == "r1.2"
    assert notice_of(lake, "r1") == told


def notice_of(lake: Path, run_id: str) -> dict:
    return json.loads((lake / "_meta" / "notices" / run_id / "bronze.json").read_text())


def test_a_batch_written_but_never_recorded_is_removed_before_ingesting(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    write_landing(landing)
    orphan = lake / "bronze" / "order_lines" / "ingest_date=2024-01-01" / "run_id=crashed"
    orphan.mkdir(parents=True)
    (orphan / "part-0.parquet").write_bytes(b"not really parquet")
    result = job_runner(
        "bronze", {"lake_root": str(lake), "run_id": "r1", "landing_root": str(landing)}
    )
    assert result.state == "SUCCEEDED", result.error_message
    assert not orphan.exists()


def test_bad_arguments_fail_with_one_clear_line(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    result = job_runner("bronze", {"lake_root": str(tmp_path), "run_id": "bad id!"})
    assert result.state == "FAILED"
    assert result.error_message == (
        "bronze job failed: JobArgumentError: --run_id 'bad id!' may not contain ' ' "
        "(a Step Functions execution name's rule)"
    )


def test_a_file_spark_cannot_read_to_its_end_fails_naming_the_file_and_the_cause(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    # An upload cut short: a good gzip header, then the end missing. The first bytes read, so
    # it is not refused; Spark's read of it fails the job, and the message names the files and
    # the cause, not only the Java call ("An error occurred while calling o144.parquet").
    orders = tmp_path / "landing" / "order_lines"
    orders.mkdir(parents=True)
    lines = [f"{536365 + i},{i * 7919 % 99991}A,MUG {i},6,12/1/2010 8:26,2.55,17850,UK" for i
             in range(20000)]  # fmt: skip
    whole = gzip.compress("\n".join([HEADER, *lines]).encode())  # cut far past its first bytes
    cut = orders / "cut short.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    options = {
        "lake_root": str(tmp_path / "lake"),
        "run_id": "r1",
        "landing_root": str(orders.parent),
    }
    result = job_runner("bronze", options)
    assert result.state == "FAILED"
    assert result.error_message == (
        "bronze job failed: LandingReadError: order_lines: reading its new landing files (or "
        "writing their bronze batch) failed: EOFException: Unexpected end of input stream; the "
        "files read: cut short.csv.gz"
    )
    assert not (tmp_path / "lake" / "_meta" / "ingested").exists()  # read again next run
    # Cut within its first bytes: gzip data all the same, so not refused as "not gzip" (which
    # would record it for good) but failed the same way, to be read again next run.
    cut.write_bytes(whole[:600])
    early = job_runner("bronze", options)
    assert early.error_message == (
        f"bronze job failed: LandingReadError: file:{cut}: reading its first bytes failed: "
        "EOFException: Unexpected end of input stream"
    )
    assert not (tmp_path / "lake" / "_meta" / "ingested").exists()


def test_a_value_with_two_line_breaks_is_read_whole(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    """A description holding two line breaks and a euro sign, as Excel writes it: its middle
    line has the header's eight fields, so only the lines around it tell that it is not a
    record. The record is one row under its first line, its description whole; every other line
    is a row, and the manifest counts the rows."""
    orders = tmp_path / "landing" / "order_lines"
    orders.mkdir(parents=True)
    records = [HEADER.split(",")]
    records += [
        [f"{536365 + i}", f"{i}A", f"MUG {i}", "6", "12/1/2010 8:26", "2.55", "17850", "UK"]
        for i in range(3000)
    ]
    broken = "GIFT SET \u20ac9.95\nof tag, ribbon, box, card, bag, bow, tissue, wrap\nBOXED"
    records.insert(2000, ["566000", "22000", broken, "1", "12/1/2010 9:00", "9.95", "", "UK"])
    # As Excel on a Western Windows saves it: Windows-1252 (the euro sign is byte 0x80), CRLF
    # between records, LF inside a cell.
    with (orders / "with breaks.csv").open("w", newline="", encoding="cp1252") as f:
        csv.writer(f).writerows(records)
    options = {
        "lake_root": str(tmp_path / "lake"),
        "run_id": "r1",
        "landing_root": str(orders.parent),
    }
    result = job_runner("bronze", options)
    assert result.state == "SUCCEEDED", result.error_message
    spanning = result.summary["datasets"]["order_lines"]["spanning"]
    assert spanning == {f"file:{orders / 'with breaks.csv'}": 1}
    rows = duckdb.sql(
        f"select _ingest_line, _corrupt_reason, InvoiceNo, Description, Quantity from "
        f"read_parquet('{tmp_path}/lake/bronze/order_lines/**/*.parquet') order by _ingest_line"
    ).fetchall()
    assert [r[0] for r in rows] == [*range(2, 2002), *range(2004, 3005)]  # a row per record
    assert [r for r in rows if r[1] is not None] == []
    assert rows[1999] == (2001, None, "566000", broken, "1")
    assert rows[-1][2] == str(536365 + 2999)
    (entry,) = manifest(tmp_path / "lake").values()
    assert (entry["rows"], entry["malformed"], entry["encoding"]) == (3001, 0, "windows-1252")
