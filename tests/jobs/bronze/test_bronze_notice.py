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

    assert told["refused"] == 5000 and told["headline"] == "5000 landing files not read"
    assert [f["path"] for f in told["files"]] == sorted(refused)[:NAMED_FILES]
    assert told["text"].endswith(
        "... and 4980 more: the ingestion manifest (_meta/ingested/<dataset>/) records every "
        "file with its reason"
    )
    assert len(json.dumps(told).encode()) < STATE_DATA_LIMIT // 8


def test_one_file_is_one_file_and_none_is_every_file_read():
    one = notice("r1", {"customers": {"refused": {"c.xlsx": "not text"}}})
    assert (one["refused"], one["headline"]) == (1, "1 landing file not read")
    assert one["text"] == "customers: c.xlsx\n  not text"
    none = notice("r2", {"customers": {"rows": 10}})
    assert (none["refused"], none["files"], none["text"]) == (0, [], "")
    assert none["headline"].isascii() and one["headline"].isascii()  # an SNS subject's
