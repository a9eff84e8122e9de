"""Text decoded outside Spark as bronze decodes each line (the stream's reader, CSV headers)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from jobs.common.text import decode_line, decode_text
from medallion.aws.firehose import read_events


def test_each_line_is_utf8_windows_1252_or_latin1_as_bronze_reads_it() -> None:
    raw = (
        "\ufeffInvoiceNo,Description\r\n".encode()
        + "536365,CAFÉ MUG\r\n".encode()  # UTF-8
        + "536366,\u201cCAFÉ\u201d \u20ac3\r\n".encode("cp1252")  # Excel on Windows
        + b"536367,\x81CAF\xc9\n"  # a byte Windows-1252 leaves undefined: Latin-1
        + "536368,CAFÉ".encode("latin-1")  # Latin-1, no line end
    )
    assert decode_text(raw) == (
        "InvoiceNo,Description\r\n536365,CAFÉ MUG\r\n536366,\u201cCAFÉ\u201d \u20ac3\r\n"
        "536367,\x81CAFÉ\n536368,CAFÉ"
    )
    assert decode_line("x,\u2013".encode("cp1252")) == "x,\u2013"
    assert decode_line("x,\u00e9".encode("latin-1")) == "x,\u00e9"


def test_a_windows_1252_export_streams_its_euro_signs(tmp_path: Path) -> None:
    """`medallion stream` reads the shop's export as bronze would read the file itself."""
    header = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
              "CustomerID", "Country"]  # fmt: skip
    row = ["536365", "22000", "\u201cLUXURY\u201d BOX \u2013 \u20ac5 OFF", "1", "12/1/2010 8:26",
           "9.95", "17850", "United Kingdom"]  # fmt: skip
    text = io.StringIO()
    csv.writer(text).writerows([header, row])
    source = tmp_path / "export.csv"
    source.write_bytes(text.getvalue().encode("cp1252"))
    _, events = read_events(source)
    sent = [json.loads(event.data) for event in events]
    assert [{k: v for k, v in e.items() if k != "event_id"} for e in sent] == [
        dict(zip(header, row, strict=True))
    ]
