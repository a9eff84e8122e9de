"""The run's notice stays small whatever the landing holds: it counts every refused file and
names the first 20, saying where the rest are recorded."""

from __future__ import annotations

import json

from jobs.bronze.notice import NAMED_FILES, notice

# A state's data in Step Functions is at most 256 KiB (the email's text is part of it).
STATE_DATA_LIMIT = 256 * 1024


def test_a_landing_of_thousands_of_refused_files_gives_a_notice_that_fits_a_state():
    reason = "not text: a spreadsheet workbook (.xlsx); " + "save it as CSV (UTF-8) " * 5
    refused = {f"s3://lake/landing/order_lines/book {i:05}.xlsx": reason for i in range(5000)}
    told = notice("r1", {"order_lines": {"refused": refused}, "products": {"rows": 3}})

    assert told["count"] == told["refused"] == 5000
    assert told["headline"] == "5000 landing files not read"
    assert [f["path"] for f in told["files"]] == sorted(refused)[:NAMED_FILES]
    assert (
        "... and 4980 more: the ingestion manifest (_meta/ingested/<dataset>/) records every "
        "file with its reason\n\nWhat to do:" in told["text"]
    )
    assert len(json.dumps(told).encode()) < STATE_DATA_LIMIT // 8


def test_one_file_is_one_file_and_a_run_with_nothing_left_out_tells_nothing():
    one = notice("r1", {"customers": {"refused": {"c.xlsx": "not text"}}})
    assert (one["count"], one["refused"], one["headline"]) == (1, 1, "1 landing file not read")
    assert "customers: c.xlsx\n  not text\n\nWhat to do: fix each file" in one["text"]
    none = notice("r2", {"customers": {"rows": 10}})
    assert (none["count"], none["files"], none["text"]) == (0, [], "")
    assert none["headline"].isascii() and one["headline"].isascii()  # an SNS subject's


def test_rows_a_source_committed_late_are_told_beside_the_files_not_read():
    late = "2 row(s) with updated_at at or before 2024-06-02T09:00:00 appeared after an earlier run"
    told = notice(
        "r3",
        {
            "customers": {"source": "crm", "rows": 4, "risk": {"message": late, "rows": 2}},
            "order_lines": {"refused": {"a.xlsx": "not text", "b.xlsx": "not text"}},
        },
    )
    assert (told["count"], told["refused"], told["late_sources"]) == (3, 2, 1)
    assert told["headline"] == "2 landing files not read, 1 source with rows committed late"
    files, rows = told["text"].split("\n\nRows a source database committed late")
    assert "order_lines: a.xlsx" in files and "order_lines: b.xlsx" in files
    assert f"customers: {late}\n\nWhat to do: run the dataset once with mode: snapshot" in rows


def test_late_rows_an_earlier_attempt_of_the_run_found_are_still_told():
    late = "1 row(s) with updated_at at or before 2024-06-02T09:00:00 appeared after an earlier run"
    first = notice("r4", {"customers": {"risk": {"message": late, "rows": 1}}})
    # The retry's check compares with the counts the first attempt stored: no rise to see.
    again = notice("r4", {"customers": {"rows": 0}}, earlier=first)
    assert again["late"] == first["late"] == [f"customers: {late}"]
    assert again["headline"] == "1 source with rows committed late"
    assert notice("r5", {"customers": {"rows": 0}})["count"] == 0
