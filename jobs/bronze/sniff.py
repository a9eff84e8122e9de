"""Whether a landing file is text bronze can read, told from its first bytes.

Bronze reads a file as lines of text (CSV or JSON Lines; UTF-8, Windows-1252 or Latin-1). A file
that is not text, an Excel workbook dropped in as downloaded say, would otherwise be cut into
"lines" at every newline byte of its binary content and each quarantined as malformed, with a
reason (the header lacks the contract's columns) that does not say what is wrong. Such a file is
refused whole instead, recorded in the ingestion manifest with the reason and what to do.

The bytes are the file's first bytes after its codec (a ``.gz`` file's decompressed content).
"""

from __future__ import annotations

SNIFF_BYTES = 4096
"""How much of a file is looked at: a text file has no NUL byte in it."""

GZIP_MAGIC = b"\x1f\x8b"

SAVE_AS_CSV = "save it as CSV (UTF-8), a sheet per file, and drop that file in landing"

# https://en.wikipedia.org/wiki/List_of_file_signatures
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (
        b"PK\x03\x04",
        "a ZIP archive (an Excel .xlsx workbook is one)",
        "unzip a .zip of CSV files into landing; " + SAVE_AS_CSV.replace("it", "a workbook", 1),
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Excel 97-2003 workbook or another OLE document",
        SAVE_AS_CSV,
    ),
    (b"PAR1", "a Parquet file", "export it as CSV or JSON Lines"),
    (b"%PDF-", "a PDF document", "export its table as CSV"),
    (GZIP_MAGIC, "gzip data in a file whose name does not end in .gz", "rename it to end in .gz"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text' export)", SAVE_AS_CSV),
    (b"\xfe\xff", "UTF-16 text", SAVE_AS_CSV),
)
WORKBOOK_SUFFIXES = ("xlsx", "xlsm", "xls", "ods", "numbers")


def not_text_reason(name: str, head: bytes) -> str | None:
    """Why the file named ``name`` whose content begins with ``head`` is not text bronze can
    read, and what to do; None when it is text."""
    what, advice = next(
        ((kind, todo) for magic, kind, todo in SIGNATURES if head.startswith(magic)), ("", "")
    )
    if not what and b"\x00" in head[:SNIFF_BYTES]:
        what, advice = "binary data (it holds NUL bytes)", SAVE_AS_CSV
    if not what:
        return None
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in WORKBOOK_SUFFIXES:
        what, advice = f"a spreadsheet workbook (.{suffix})", SAVE_AS_CSV
    return (
        f"not text: {what}; bronze reads CSV or JSON Lines text (UTF-8, Windows-1252 or Latin-1):"
        f" {advice}"
    )


def unreadable_reason(name: str, message: str) -> str:
    """Why a file whose content could not be read through its suffix's codec (plain text named
    ``.gz``, say) was refused, and what to do."""
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return (
        f"unreadable: {message or 'its codec failed'} (read through the codec its .{suffix} "
        f"suffix names); if it is not .{suffix} data, rename it without the .{suffix}"
    )
