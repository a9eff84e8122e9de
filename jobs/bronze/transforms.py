"""Bronze transforms: landing file bytes to one string row per line, malformed lines kept whole."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.bronze.quoting import (
    UNBALANCED,
    Spans,
    csv_field_count,
    joined_records,
    quote_on_another_line,
)
from jobs.common.aliases import named_as_contract
from jobs.common.text import C1_BYTES, CP1252_UNDEFINED, LATIN_1, WINDOWS_1252

REPLACEMENT_CHAR = "\ufffd"
BOM = "\ufeff"
MAX_LENGTH = (1 << 31) - 1


# Bronze's own columns, and its partitions: an extra source column never takes one of these names.
BRONZE_COLUMNS = (
    "_corrupt_record", "_corrupt_reason", "_ingest_file", "_ingest_line", "_ingest_encoding",
    "_ingest_run_id", "_ingest_at", "ingest_date", "run_id",
)  # fmt: skip
# Letters, digits and _ are the characters every reader of the lake (Parquet, the Glue catalog,
# Athena, DuckDB) takes in a column name without quoting.
NOT_IN_NAME = re.compile(r"[^0-9A-Za-z_]")


# monotonically_increasing_id() puts the partition index above bit 33 and the row's position
# within the partition below it.
ROW_IN_PARTITION = (1 << 33) - 1


def _java_class(codes: Iterable[int]) -> str:
    """A Java regex character class of these code points (a Latin-1 decode's characters)."""
    return "[" + "".join(f"\\x{{{code:02X}}}" for code in codes) + "]"


# Bytes Latin-1 reads as control characters and Windows-1252 (what Excel saves a CSV file in on
# a Western Windows) as printable ones; and the five it leaves undefined (Java decodes them as
# U+FFFD): as ``jobs.common.text`` decodes outside Spark.
C1_CONTROLS = _java_class(C1_BYTES)
CP1252_UNDEFINED_CLASS = _java_class(CP1252_UNDEFINED)


def decode_line(raw: Column) -> tuple[Column, Column]:
    """Decode a line's bytes as UTF-8 or, when they are not valid UTF-8, as Windows-1252 or
    Latin-1.

    Returns the text (any byte-order mark dropped) and the encoding used. Invalid UTF-8 shows up
    as U+FFFD after decoding. A line that is not UTF-8 is Windows-1252 when it holds a byte in
    0x80-0x9F (``€``, curly quotes, dashes: bytes Latin-1 reads as control characters), as
    browsers read a page labelled Latin-1 (the WHATWG Encoding Standard,
    https://encoding.spec.whatwg.org/#names-and-labels), unless it holds one of the five bytes
    Windows-1252 leaves undefined; otherwise it is Latin-1, which maps every byte to a character,
    so it never loses one (the two agree on every other byte).
    """
    utf8 = F.decode(raw, "UTF-8")
    is_utf8 = F.instr(utf8, REPLACEMENT_CHAR) == 0
    without_bom = F.when(utf8.startswith(BOM), F.substring(utf8, 2, MAX_LENGTH)).otherwise(utf8)
    latin1 = F.decode(raw, LATIN_1)
    is_cp1252 = latin1.rlike(C1_CONTROLS) & ~latin1.rlike(CP1252_UNDEFINED_CLASS)
    text = (
        F.when(is_utf8, without_bom).when(is_cp1252, F.decode(raw, WINDOWS_1252)).otherwise(latin1)
    )
    encoding = (
        F.when(is_utf8, F.lit("UTF-8"))
        .when(is_cp1252, F.lit(WINDOWS_1252))
        .otherwise(F.lit(LATIN_1))
    )
    return text, encoding


def listed_path(file_path: Column, listed: Mapping[str, str]) -> Column:
    """A line's file as the listing names it, from Spark's percent-encoded ``file_path``.

    ``listed`` maps the encoded form (``LakeFiles.spark_file_path``) to the listed path. Only
    names that differ need a lookup; a name without one passes through unchanged. A lookup
    rather than URL-decoding: Spark's ``url_decode`` reads ``+`` as a space.
    """
    renamed = {encoded: path for encoded, path in listed.items() if encoded != path}
    if not renamed:
        return file_path
    lookup = F.create_map(*[F.lit(text) for pair in sorted(renamed.items()) for text in pair])
    return F.coalesce(F.element_at(lookup, file_path), file_path)


def number_lines(raw: DataFrame) -> DataFrame:
    """Each line's 1-based number in its file, whether the file was read whole or in splits.

    ``raw`` holds the text source's lines straight off the scan: ``_ingest_file``, ``_block``
    (``_metadata.file_block_start``: where the line's split starts in the file), ``_row_id``
    (monotonically_increasing_id()) and ``_bytes``. A split is read by one task, in file
    order, and a partition holds whole splits one after another, so a line's position in its
    split is its position in the partition less the split's first; its number adds the lines
    of the file's earlier splits. Those counts come from a pass of their own over the same
    scan (the same files and settings give the same splits and partitions), small enough to
    be broadcast: one row per split.
    """
    position = F.col("_row_id").bitwiseAND(F.lit(ROW_IN_PARTITION))
    rows = raw.select("_ingest_file", "_block", position.alias("_position"), "_bytes")
    splits = rows.groupBy("_ingest_file", "_block").agg(
        F.min("_position").alias("_first"), F.count(F.lit(1)).alias("_lines")
    )
    earlier = (
        Window.partitionBy("_ingest_file")
        .orderBy("_block")
        .rowsBetween(Window.unboundedPreceding, -1)
    )
    splits = splits.select(
        "_ingest_file", "_block", "_first",
        F.coalesce(F.sum("_lines").over(earlier), F.lit(0)).alias("_offset"),
    )  # fmt: skip
    line = F.col("_offset") + F.col("_position") - F.col("_first") + 1
    return rows.join(F.broadcast(splits), ["_ingest_file", "_block"]).select(
        "_ingest_file", line.alias("_ingest_line"), "_bytes"
    )


def number_and_decode_lines(raw: DataFrame) -> DataFrame:
    """One row per line: ``_ingest_file``, ``_ingest_line`` (1-based), ``_line``, encoding.

    ``raw`` as ``number_lines`` takes it. The text source splits on LF, CRLF or CR and drops
    the empty string after a final line end; the bytes are the file's own, not yet decoded.
    """
    numbered = number_lines(raw)
    text, encoding = decode_line(F.col("_bytes"))
    return numbered.select(
        "_ingest_file", "_ingest_line", text.alias("_line"), encoding.alias("_ingest_encoding")
    )


def parse_header(text: str) -> list[str]:
    """A CSV header line as trimmed field names, spelled as the file spells them."""
    return [name.strip() for name in next(csv.reader([text]), [])]


@dataclass(frozen=True)
class ExtraColumn:
    """A column files bring that the contract does not name: its bronze name, and the field
    (index into the file's field names) that holds it in each file that has it."""

    name: str
    source: str
    fields: Mapping[str, int]


def extra_columns(
    source_columns: Sequence[str],
    fields: Mapping[str, Sequence[str]],
    case_sensitive: bool = False,
) -> list[ExtraColumn]:
    """The columns of a batch's files beyond the contract's: the union over the files.

    ``fields`` gives each file's field names (a CSV header, or a JSON file's keys). A field is
    the contract's when its name matches a source column, case-insensitively unless
    ``case_sensitive`` (CSV headers match by any case; JSON keys as Spark's parser does, by
    exact name). The other fields are extra, the same column in every file that spells it alike
    (any case); a name a file repeats is a second column. The bronze name is the source name
    with every character but letters, digits and ``_`` replaced by ``_`` (``unnamed_<n>`` for
    an empty one); a name that would clash, in any case, with a contract column, a bronze
    column or an earlier extra takes a suffix ``_2``, ``_3``...
    """
    own = set(source_columns) if case_sensitive else {c.lower() for c in source_columns}
    found: dict[tuple[str, int], dict[str, int]] = {}
    spelled: dict[tuple[str, int], str] = {}
    for path in sorted(fields):
        seen: dict[str, int] = {}
        for index, field in enumerate(fields[path]):
            key = field.lower()
            repeat = seen.get(key, 0)
            seen[key] = repeat + 1
            if repeat == 0 and (field if case_sensitive else key) in own:
                continue
            found.setdefault((key, repeat), {})[path] = index
            spelled.setdefault((key, repeat), field if field else f"unnamed_{index + 1}")
    taken = {c.lower() for c in (*source_columns, *BRONZE_COLUMNS)}
    extras = []
    for column, files in found.items():
        base = NOT_IN_NAME.sub("_", spelled[column])
        name, suffix = base, 1
        while name.lower() in taken:
            suffix += 1
            name = f"{base}_{suffix}"
        taken.add(name.lower())
        extras.append(ExtraColumn(name, spelled[column], files))
    return extras


def _positional_fields(lines: DataFrame, slots: int) -> DataFrame:
    """Parse each line once into a struct, then lay its fields out as an array.

    Two selects on purpose: taking the fields of the from_csv call in the same select would
    repeat the parse once per field.
    """
    schema = ", ".join(f"c{i} string" for i in range(slots))
    # RFC 4180: a quote inside a quoted field is doubled. Spark's CSV parser escapes it with a
    # backslash unless told (the ``escape`` option, https://spark.apache.org/docs/latest/
    # sql-data-sources-csv.html), and read "12"" PLATE" as a cut field.
    options = {"mode": "PERMISSIVE", "escape": '"'}
    parsed = lines.select("*", F.from_csv("_line", schema, options).alias("_s"))
    fields = F.array(*[F.col(f"_s.c{i}") for i in range(slots)])
    return parsed.select(*lines.columns, fields.alias("_fields"))


def _per_file(values: Mapping[str, Column], default: Column) -> Column:
    """A value that depends on the line's file (there are few files per batch).

    ``values`` names every file of the batch: one value for all of them needs no condition.
    """
    if len(set(map(str, values.values()))) == 1:
        return next(iter(values.values()))
    expression = None
    for path, value in values.items():
        condition = F.col("_ingest_file") == F.lit(path)
        expression = (F.when(condition, value) if expression is None else
                      expression.when(condition, value))  # fmt: skip
    return default if expression is None else expression.otherwise(default)


def _keyed_extras(
    extras: Sequence[ExtraColumn], keys: Mapping[str, Sequence[str]], values: Column
) -> list[Column]:
    """The extra columns of JSON objects: each the value (of the map ``values``) under the key its
    line's file names it by (``keys``: each file's keys), NULL in a file without it."""
    columns = []
    for extra in extras:
        named = {
            path: F.lit(names[extra.fields[path]] if path in extra.fields else None)
            for path, names in keys.items()
        }
        key = _per_file(named, F.lit(None))
        columns.append(F.when(key.isNotNull(), values[key]).alias(extra.name))
    return columns


def _parsed(lines: DataFrame, columns: list[Column], reason: Column) -> DataFrame:
    """Bronze's rows: the parsed ``columns``, then the whole line and the ``reason`` where a line
    has one (else NULLs), and where each line came from."""
    return lines.select(
        *columns,
        F.when(reason.isNotNull(), F.col("_line")).alias("_corrupt_record"),
        reason.alias("_corrupt_reason"),
        "_ingest_file",
        "_ingest_line",
        "_ingest_encoding",
    )


def parse_csv_lines(
    lines: DataFrame,
    source_columns: list[str],
    headers: Mapping[str, list[str]],
    records: Spans | None = None,
) -> DataFrame:
    """Map each data line's fields to columns by its file's own header: the contract's source
    columns, then every other column of any file (see ``extra_columns``), all strings.

    ``headers`` gives each file's header fields (see ``parse_header``), so files with the
    columns in another order still load; names match the contract's in any case. A line whose
    field count differs from its header's, or a file whose header lacks a contract column,
    keeps the whole line in ``_corrupt_record`` with the reason in ``_corrupt_reason``; its
    columns hold what could be parsed. An extra column is NULL for a file without it.

    A record whose quoted field holds a line break spans lines: ``records`` names them (see
    ``jobs.bronze.quoting``), and each is read as one row under its first line. Without
    ``records`` (the first read of a batch) its first and last lines are kept whole with why
    (``UNBALANCED``).
    """
    slots = max([len(h) for h in headers.values()] + [len(source_columns)])
    data = lines.where(F.col("_ingest_line") > 1)
    if records:
        data = joined_records(data, records)
    data = _positional_fields(data, slots)
    lowered = {path: [name.lower() for name in header] for path, header in headers.items()}
    columns = []
    for name in source_columns:
        positions = {
            path: F.lit(header.index(name.lower()) + 1 if name.lower() in header else 0)
            for path, header in lowered.items()
        }
        columns.append(_field_at(_per_file(positions, F.lit(0))).alias(name))
    for extra in extra_columns(source_columns, headers):
        positions = {path: F.lit(extra.fields.get(path, -1) + 1) for path in headers}
        columns.append(_field_at(_per_file(positions, F.lit(0))).alias(extra.name))
    lacking = {path: header_problem(header, source_columns) for path, header in headers.items()}
    header_lacks = _per_file({p: F.lit(m) for p, m in lacking.items()}, F.lit(""))
    header_count = _per_file({p: F.lit(len(h)) for p, h in headers.items()}, F.lit(0))
    field_count = csv_field_count(F.col("_line"))
    miscounted = F.format_string("line has %d fields, the header has %d", field_count, header_count)
    reason = (
        F.when(header_lacks != "", header_lacks)
        .when(F.trim(F.col("_line")) == "", F.lit("blank line"))
        .when(quote_on_another_line(F.col("_line")), F.lit(UNBALANCED))
        .when(field_count != header_count, miscounted)
    )
    return _parsed(data, columns, reason)


OTHER_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe"}


def header_problem(header: Sequence[str], source_columns: Sequence[str]) -> str:
    """Why a file's header cannot be read as the contract's ("" when it can): the contract
    columns it lacks, and, for a header that is one field holding another separator (an Excel
    export in a locale whose list separator is ';', say), what the file looks like."""
    names = {name.lower() for name in header}
    lacks = [name for name in source_columns if name.lower() not in names]
    if not lacks:
        return ""
    problem = f"file header lacks column(s) {', '.join(lacks)}"
    found = [sep for sep in OTHER_SEPARATORS if len(header) == 1 and sep in header[0]]
    if found:
        problem += (
            f": its header is one field holding {OTHER_SEPARATORS[found[0]]}s, a "
            f"{OTHER_SEPARATORS[found[0]]}-separated file? bronze reads comma-separated CSV: "
            "save it with commas between fields and dots in numbers"
        )
    return problem


def _field_at(position: Column) -> Column:
    """The line's field at a 1-based position; NULL for position 0 (the file lacks it)."""
    return F.when(position > 0, F.element_at("_fields", position))


def json_keys(lines: DataFrame) -> DataFrame:
    """Every key of each file's JSON objects, one row per file and key (top level only)."""
    keys = F.map_keys(F.from_json("_line", "map<string,string>"))
    objects = lines.where(F.trim(F.col("_line")).startswith("{"))
    return objects.select("_ingest_file", F.explode(keys).alias("key")).distinct()


def parse_json_lines(
    lines: DataFrame,
    source_columns: list[str],
    keys: Mapping[str, Sequence[str]] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> DataFrame:
    """Parse JSON Lines into the contract's source columns, then every other key any file has
    (``keys``: each file's keys, see ``json_keys`` and ``extra_columns``), all as strings
    (a nested value as its JSON text); bad lines kept whole. A source column's value is under
    its name, else, in a line without it, under one of its ``aliases`` (alias -> source name;
    exact names, as keys). In a file whose objects have both, the alias is also a column of its
    own; unlike a CSV header, which is the whole file's, a line lacking the name takes the
    alias's value.
    """
    aliases = aliases or {}
    schema = ", ".join(f"`{name}` string" for name in [*source_columns, *aliases])
    parsed = F.from_json(
        F.col("_line"),
        f"{schema}, _corrupt_record string",
        {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt_record"},
    )
    is_object = F.trim(F.col("_line")).startswith("{")
    reason = (
        F.when(F.trim(F.col("_line")) == "", F.lit("blank line"))
        .when(~is_object, F.lit("line is not a JSON object"))
        .when(parsed["_corrupt_record"].isNotNull(), F.lit("line is not valid JSON"))
    )
    keep = F.when(reason.isNull(), parsed)
    columns = [
        F.coalesce(keep[name], *[keep[a] for a, s in aliases.items() if s == name]).alias(name)
        for name in source_columns
    ]
    keys = keys or {}
    renamed = {path: named_as_contract(found, aliases, True) for path, found in keys.items()}
    extras = extra_columns(source_columns, renamed, case_sensitive=True)
    if extras:
        values = F.when(reason.isNull(), F.from_json(F.col("_line"), "map<string,string>"))
        columns += _keyed_extras(extras, keys, values)
    return _parsed(lines, columns, reason)


def add_ingest_metadata(rows: DataFrame, batch_id: str, ingested_at: datetime) -> DataFrame:
    """Stamp the batch and the time on every row (the batch's directory gives the partitions)."""
    return rows.select(
        "*",
        F.lit(batch_id).alias("_ingest_run_id"),
        F.lit(ingested_at).cast("timestamp").alias("_ingest_at"),
    )


def parse_stream_records(
    lines: DataFrame,
    fields: Mapping[str, str],
    own: Sequence[str],
    keys: Mapping[str, Sequence[str]] | None = None,
) -> DataFrame:
    """Parse stream events (one JSON object per line) into the source columns, the stream's
    own fields (event id, sent-at time), then every other key any object has; all strings.

    ``fields`` maps each source column to the event field holding it. A record that is not a
    JSON object, or lacks a field (a source column's, the id or the time), is kept whole in
    ``_corrupt_record`` with the reason; its columns hold what could be read. ``keys`` gives
    each object's keys (see ``json_keys``) for the extra columns.
    """
    values = F.from_json(F.col("_line"), "map<string,string>")
    required = [*fields.values(), *own]
    missing = F.filter(
        F.array(*[F.when(~F.map_contains_key(values, k), F.lit(k)) for k in required]),
        lambda name: name.isNotNull(),
    )
    is_object = F.trim(F.col("_line")).startswith("{")
    reason = (
        F.when(F.trim(F.col("_line")) == "", F.lit("blank line"))
        .when(~is_object, F.lit("record is not a JSON object"))
        .when(values.isNull(), F.lit("record is not valid JSON"))
        .when(
            F.size(missing) > 0,
            F.concat(F.lit("record lacks field(s) "), F.array_join(missing, ", ")),
        )
    )
    read = F.when(is_object, values)
    columns = [read[field].alias(source) for source, field in fields.items()]
    columns += [read[name].alias(name) for name in own]
    keys = keys or {}
    columns += _keyed_extras(extra_columns(required, keys, case_sensitive=True), keys, read)
    return _parsed(lines, columns, reason)


def stream_file_columns(
    keys: Sequence[str], fields: Mapping[str, str], own: Sequence[str]
) -> list[str]:
    """A stream object's columns as the manifest records them: its keys under the source
    column names they map to, without the stream's own fields (schema drift compares these
    with the contract's source columns)."""
    sources = {field: source for source, field in fields.items()}
    return sorted(sources.get(key, key) for key in keys if key not in own)
