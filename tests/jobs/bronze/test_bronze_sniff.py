"""Which landing files bronze refuses as not text, from their first bytes, and what it says."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest

from jobs.bronze.sniff import not_text_reason


def workbook() -> bytes:
    """The first bytes of an .xlsx: a ZIP archive of XML parts.

    The same bytes on every call: pytest-xdist refuses to run when its workers collect
    different test ids, and a ZIP member's default date is the current second.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for part, text in (
            ("[Content_Types].xml", "<Types/>"),
            ("xl/worksheets/sheet1.xml", "<worksheet/>"),
        ):
            archive.writestr(zipfile.ZipInfo(part, date_time=(2011, 12, 9, 12, 50, 0)), text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "head", "said"),
    [
        ("Online Retail.xlsx", workbook(), "a spreadsheet workbook (.xlsx)"),
        ("exports.zip", workbook(), "a ZIP archive"),
        (
            "orders.xls",
            bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 8,
            "spreadsheet workbook (.xls)",
        ),
        ("orders.csv", gzip.compress(b"InvoiceNo\n1\n", mtime=0), "rename it to end in .gz"),
        ("orders.txt", "InvoiceNo\tStockCode\n".encode("utf-16"), "UTF-16 text"),
        ("orders.csv", b"InvoiceNo,StockCode\n\x00\x01\x02", "binary data (it holds NUL bytes)"),
        ("orders.parquet", b"PAR1\x15\x04", "a Parquet file"),
    ],
    ids=["xlsx", "zip", "xls", "gzip-named-csv", "utf16", "nul-bytes", "parquet"],
)
def test_a_file_that_is_not_text_is_refused_with_why_and_what_to_do(
    name: str, head: bytes, said: str
) -> None:
    reason = not_text_reason(name, head)
    assert reason is not None and reason.startswith("not text: ")
    assert said in reason


@pytest.mark.parametrize(
    "head",
    [
        b"",
        "InvoiceNo,Description\n536365,CR\xc8ME BR\xdbL\xc9E SET\n".encode("latin-1"),
        "\ufeffInvoiceNo,Description\r\n536365,CAFÉ MUG\r\n".encode(),
        "InvoiceNo,Description\r\n536365,\u201cCAFÉ\u201d MUG \u20ac3\r\n".encode("cp1252"),
        b'{"InvoiceNo": "536365", "event_id": "e-1"}\n',
    ],
)
def test_text_in_utf8_or_latin1_is_read(head: bytes) -> None:
    assert not_text_reason("orders.csv", head) is None
