"""CSV quoting in bronze: fields counted outside quotes, and the lines of a quoted field that
holds line breaks, which bronze, reading a file line by line, cannot read as one record.

A quoted field may hold a line break (a cell with Alt+Enter, saved as CSV by Excel). Its first
and last lines each hold a double quote that no field of theirs closes or opens: a per-line check
finds them (``quote_on_another_line``). A line between them (a value with two line breaks or
more) can look like a whole record; only the lines around it tell, so the job collects the lines
that check marked, finds the lines they enclose (``lines_inside_quoted_fields``) and, when there
are any, reads the batch again marking them (``marked_inside``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

# Commas inside double-quoted fields are not separators; "" is an escaped quote.
QUOTED_FIELD = r'"(?:[^"]|"")*"'

UNBALANCED = (
    "a double quote opens or closes a field on another line"
    " (a line break inside a quoted field is not read)"
)
"""Why the first and last lines of a record whose quoted field holds a line break are
quarantined: bronze reads a CSV file line by line."""

INSIDE_QUOTED = (
    "line lies inside a quoted field that a line before it opens and a line after it closes"
    " (a line break inside a quoted field is not read)"
)
"""Why a line between those two is quarantined, whatever its field count."""

Spans = Mapping[str, Sequence[tuple[int, int]]]
"""Per file, the (first, last) line numbers of each run of lines inside a quoted field."""


def outside_quoted_fields(line: Column) -> Column:
    """The line without its whole quoted fields (each may hold commas and doubled quotes): what
    its fields are counted on, and where a quote that no field closes is left."""
    return F.when(F.instr(line, '"') > 0, F.regexp_replace(line, QUOTED_FIELD, "")).otherwise(line)


def csv_field_count(line: Column) -> Column:
    """Number of comma-separated fields, counting a quoted field with commas in it once."""
    # Pieces of a split rather than length minus length without commas: translate() costs
    # about 2 s per million lines here, a split on one literal character a tenth of that.
    return F.size(F.split(outside_quoted_fields(line), ",", -1))


def unbalanced_quotes(line: Column) -> Column:
    """Whether a line holds an odd number of double quotes. In RFC 4180 CSV a quote inside a
    quoted field is doubled, so a line of whole records always holds an even number."""
    return (F.length(line) - F.length(F.replace(line, F.lit('"'), F.lit("")))) % 2 == 1


def quote_on_another_line(line: Column) -> Column:
    """Whether a field of the line opens with a double quote the line does not close, or ends
    with one the line did not open: a line of a record whose quoted field holds a line break.
    Such a line can have as many fields as the header (the break in its first or last field) and
    would pass with a cut value. A quote inside an unquoted field (``12" PLATE``) is data, as
    Spark's CSV parser reads it."""
    # What is left outside whole quoted fields, as the field count splits it.
    opens_or_closes = outside_quoted_fields(line).rlike(r'(^|,)\s*"|"\s*(,|$)')
    return unbalanced_quotes(line) & opens_or_closes  # a line without quotes stops at the first


def ends_inside_quotes(line: str, inside: bool) -> bool:
    """Whether a CSV reader of ``line`` that starts it inside a quoted field (``inside``) or at
    a field's start ends it inside a quoted field. As RFC 4180 reads a line, and leniently as
    Spark's parser does: a quote within an unquoted field is data, spaces may come before a
    field's opening quote, and text after a field's closing quote goes on as unquoted data."""
    state = "quoted" if inside else "start"
    for char in line:
        if state == "quoted":
            state = "closing" if char == '"' else "quoted"
        elif state == "closing":  # just after a quote inside a quoted field
            state = "quoted" if char == '"' else "start" if char == "," else "unquoted"
        elif char == ",":
            state = "start"
        elif state == "start" and char == '"':
            state = "quoted"
        elif state == "start" and char in " \t":
            continue
        else:
            state = "unquoted"
    return state == "quoted"


def lines_inside_quoted_fields(marked: Iterable[tuple[int, str]]) -> list[tuple[int, int]]:
    """The runs of lines (first, last) that lie inside a quoted field, in one file, from its
    lines that ``quote_on_another_line`` marks (number, text).

    A marked line that a reader starting at a field's start ends inside a quoted field opens
    one; the next marked line closes it (whatever it holds: a CSV reader takes everything up to
    the next field-ending quote into the field), and the lines between lie inside it. That
    closing line may open another. A marked line that opens nothing (a quote ending an
    unquoted field) is left alone, and so is a field still open at the end of the file: its
    lines are read one by one, as if no line broke it.
    """
    spans = []
    opened = None
    for number, text in sorted(marked):
        if opened is not None:
            if number > opened + 1:
                spans.append((opened + 1, number - 1))
            opened = number if ends_inside_quotes(text, True) else None
        elif ends_inside_quotes(text, False):
            opened = number
    return spans


def marked_inside(lines: DataFrame, spans: Spans) -> DataFrame:
    """``lines`` with ``_inside``: true for a line within ``spans``, else NULL. A broadcast join
    on the file and line number with one row per such line; the lines themselves are not
    shuffled."""
    rows = [(path, first, last) for path, runs in spans.items() for first, last in runs]
    if not rows:
        return lines.withColumn("_inside", F.lit(None).cast("boolean"))
    runs = lines.sparkSession.createDataFrame(rows, "_ingest_file string, _first long, _last long")
    inside = runs.select(
        "_ingest_file",
        F.explode(F.sequence("_first", "_last")).alias("_ingest_line"),
        F.lit(True).alias("_inside"),
    )
    return lines.join(F.broadcast(inside), ["_ingest_file", "_ingest_line"], "left")
