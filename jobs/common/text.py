"""Text files' bytes decoded as bronze decodes each line, for the readers outside Spark."""

from __future__ import annotations


def decode_line(raw: bytes) -> str:
    """One line's bytes as ``jobs.bronze.transforms.decode_line`` decodes them: UTF-8 (a BOM
    dropped); else Windows-1252 when they hold a byte in 0x80-0x9F it defines (the euro sign,
    curly quotes, dashes: control characters in Latin-1); else Latin-1, which maps every byte to
    a character."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if any(0x80 <= byte <= 0x9F for byte in raw):
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:  # one of the five bytes it leaves undefined
            pass
    return raw.decode("latin-1")


def decode_text(raw: bytes) -> str:
    """A file's bytes decoded line by line as bronze reads them, line ends kept: a file whose
    lines were saved in different encodings reads as bronze reads it."""
    return "".join(decode_line(line) for line in raw.splitlines(keepends=True))
