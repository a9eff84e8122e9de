"""CSV quoting in bronze: fields counted outside quotes, and records whose quoted field holds a
line break (a cell with Alt+Enter, saved as CSV by Excel; valid RFC 4180), which span lines.

Bronze reads a file as lines, each on its own, split over tasks. A record that spans lines has a
first and a last line each holding a double quote that no field of theirs closes or opens: a
per-line check marks them (``quote_on_another_line``). The job collects the marked lines while it
counts the rows it wrote, pairs them into the records they begin and end
(``records_across_lines``) and, when there are any, reads the batch again with each such record's
lines joined into one row (``joined_records``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.common.text import NOT_UTF8

# A quoted field once its doubled quotes are gone: commas inside it are not separators.
QUOTED_FIELD = r'"[^"]*"'

UNBALANCED = (
    "a double quote opens a field that no later line closes,"
    " or closes one that no earlier line opened"
)
"""Why a line is quarantined whose quote opens a field that no later line closes, or closes one
that no earlier line opened: bronze cannot tell which lines make the record."""

Spans = Mapping[str, Sequence[tuple[int, int]]]
"""Per file, the (first, last) line numbers of each record that spans lines."""


def outside_quoted_fields(line: Column) -> Column:
    """The line without its whole quoted fields (each may hold commas and doubled quotes): what
    its fields are counted on, and where a quote that no field closes is left.

    The doubled quotes go first, then each quoted field: two replaces with no alternation. One
    pattern for both (``"(?:[^"]|"")*"``) recurses in Java's regex engine once per character of
    a field, and a quoted field of about 3,000 characters overflowed the task's stack, which
    ends the JVM. For a line with an even number of quotes the result is the same (checked for
    every line of up to 10 characters of ``"``, ``a`` and ``,``)."""
    fields = F.regexp_replace(F.regexp_replace(line, '""', ""), QUOTED_FIELD, "")
    return F.when(F.instr(line, '"') > 0, fields).otherwise(line)


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


def records_across_lines(marked: Iterable[tuple[int, str]]) -> list[tuple[int, int]]:
    """The (first, last) lines of each record of one file that a quoted field carries over
    lines, from its lines that ``quote_on_another_line`` marks (number, text).

    A marked line that a reader starting at a field's start ends inside a quoted field begins
    such a record; the next marked line that a reader starting inside the field ends outside
    of one ends it (a marked line between them closes the field and opens another). The lines
    between them hold no field-ending quote (RFC 4180 doubles a quote inside a field), so none is
    marked. A marked line that begins nothing (a quote ending an unquoted field) is left alone,
    as is a record still open at the end of the file: its lines stay lines, each quarantined or
    read on its own.
    """
    records = []
    first = None
    for number, text in sorted(marked):
        if first is None:
            if ends_inside_quotes(text, False):
                first = number
        elif not ends_inside_quotes(text, True):
            records.append((first, number))
            first = None
    return records


def _named_by_precedence(encodings: Column) -> Column:
    """``jobs.common.text.file_encoding`` of an array column of the lines' encodings."""
    named = F.lit("UTF-8")
    for name in reversed(NOT_UTF8):
        named = F.when(F.array_contains(encodings, name), F.lit(name)).otherwise(named)
    return named


def joined_records(lines: DataFrame, records: Spans) -> DataFrame:
    """``lines`` (``_ingest_file``, ``_ingest_line``, ``_line``, ``_ingest_encoding``) with the
    lines of each of ``records`` as one row: their text joined by line breaks (LF), under the
    record's first line number, in the encoding of its lines (Windows-1252 or Latin-1 if any
    of them is: see ``jobs.bronze.transforms.decode_line``). A broadcast join on the file and
    line number finds them; only their lines are shuffled, to be joined."""
    rows = [(path, first, last) for path, spans in records.items() for first, last in spans]
    if not rows:
        return lines
    spans = lines.sparkSession.createDataFrame(rows, "_ingest_file string, _first long, _last long")
    members = spans.select(
        "_ingest_file", "_first", F.explode(F.sequence("_first", "_last")).alias("_ingest_line")
    )
    tagged = lines.join(F.broadcast(members), ["_ingest_file", "_ingest_line"], "left")
    single = tagged.where(F.col("_first").isNull()).select(*lines.columns)
    joined = (
        tagged.where(F.col("_first").isNotNull())
        .groupBy("_ingest_file", "_first")
        .agg(
            F.array_sort(F.collect_list(F.struct("_ingest_line", "_line"))).alias("_parts"),
            F.collect_set("_ingest_encoding").alias("_encodings"),
        )
        .select(
            "_ingest_file",
            F.col("_first").alias("_ingest_line"),
            F.concat_ws("\n", F.transform("_parts", lambda part: part["_line"])).alias("_line"),
            _named_by_precedence(F.col("_encodings")).alias("_ingest_encoding"),
        )
    )
    return single.unionByName(joined.select(*lines.columns))
