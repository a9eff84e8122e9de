"""Text files' bytes decoded as bronze decodes each line, for the readers outside Spark."""

from __future__ import annotations

from collections.abc import Iterable

# The bytes Latin-1 reads as C1 control characters and Windows-1252 as printable ones (the euro
# sign, curly quotes, dashes), and the five of them Windows-1252 leaves undefined.
C1_BYTES = range(0x80, 0xA0)
CP1252_UNDEFINED = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])
# The names bronze gives a line's encoding that is not UTF-8; a file with lines in more than one
# is named by the first of them it has.
WINDOWS_1252, LATIN_1 = "windows-1252", "ISO-8859-1"
NOT_UTF8 = (WINDOWS_1252, LATIN_1)


def file_encoding(encodings: Iterable[str]) -> str:
    """A file's encoding from its lines': a file with one line that is not valid UTF-8 is a
    Windows-1252 file if a line is, else a Latin-1 file."""
    found = set(encodings)
    return next((name for name in NOT_UTF8 if name in found), "UTF-8")


def decode_line(raw: bytes) -> str:
    """One line's bytes as ``jobs.bronze.transforms.decode_line`` decodes them: UTF-8 (a BOM
    dropped); else Windows-1252 when they hold a byte in 0x80-0x9F it defines (the euro sign,
    curly quotes, dashes: control characters in Latin-1); else Latin-1, which maps every byte to
    a character."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if any(byte in C1_BYTES for byte in raw):
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:  # one of the five bytes it leaves undefined
            pass
    return raw.decode("latin-1")


def decode_text(raw: bytes) -> str:
    """A file's bytes decoded line by line as bronze reads them, line ends kept: a file whose
    lines were saved in different encodings reads as bronze reads it."""
    return "".join(decode_line(line) for line in raw.splitlines(keepends=True))
