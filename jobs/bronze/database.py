"""Bronze transforms for database rows: every column as text, with the lineage files get."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.bronze.transforms import extra_columns

# Whole seconds are written without a fraction (what the file contracts' formats read);
# anything finer with all six digits. A contract reads both with two formats.
SECONDS = "yyyy-MM-dd HH:mm:ss"
MICROSECONDS = "yyyy-MM-dd HH:mm:ss.SSSSSS"
# What the watermark kinds of jobs.common.jdbc_source are, by the type Spark reads a column as.
INTEGER_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)


def bronze_text(column: Column, data_type: T.DataType) -> Column:
    """A database value as bronze's text: one fixed rendering per type, parseable by silver.

    Timestamps (with or without time zone, shown in the session's UTC) as
    ``yyyy-MM-dd HH:mm:ss[.SSSSSS]``, dates ``yyyy-MM-dd``, booleans ``true``/``false``,
    decimals and numbers as Spark writes them, bytes as base64, arrays and structs as JSON.
    """
    if isinstance(data_type, T.StringType):
        return column
    if isinstance(data_type, (T.TimestampType, T.TimestampNTZType)):
        whole = F.date_format(column, "SSSSSS") == F.lit("000000")
        return F.when(whole, F.date_format(column, SECONDS)).otherwise(
            F.date_format(column, MICROSECONDS)
        )
    if isinstance(data_type, T.DateType):
        return F.date_format(column, "yyyy-MM-dd")
    if isinstance(data_type, T.BinaryType):
        return F.base64(column)
    if isinstance(data_type, (T.ArrayType, T.MapType, T.StructType)):
        return F.to_json(column)
    return column.cast("string")


def watermark_kind(data_type: T.DataType) -> str | None:
    """The watermark kind of a column Spark read as ``data_type``; None if it cannot be one."""
    if isinstance(data_type, T.TimestampNTZType):
        return "timestamp"
    if isinstance(data_type, T.TimestampType):
        return "timestamptz"
    if isinstance(data_type, INTEGER_TYPES) or (
        isinstance(data_type, T.DecimalType) and data_type.scale == 0
    ):
        return "integer"
    return None


def database_rows(rows: DataFrame, source_columns: Sequence[str], source_name: str) -> DataFrame:
    """Database rows as bronze rows, before the batch's stamps (``add_ingest_metadata``).

    The contract's columns first, matched to the database's by name in any case (NULL when the
    database has no such column: silver reports it as a column that disappeared), then every
    other column the database sends, named as bronze names a file's extra column. Lineage: the
    source's name in ``_ingest_file`` and a row number unique in the batch in ``_ingest_line``.
    """
    types = {f.name: f.dataType for f in rows.schema.fields}
    by_lower = {name.lower(): name for name in types}
    selected = []
    for name in source_columns:
        found = by_lower.get(name.lower())
        value = bronze_text(F.col(f"`{found}`"), types[found]) if found else F.lit(None)
        selected.append(value.cast("string").alias(name))
    for extra in extra_columns(source_columns, {source_name: list(types)}):
        selected.append(
            bronze_text(F.col(f"`{extra.source}`"), types[extra.source]).alias(extra.name)
        )
    return rows.select(
        *selected,
        F.lit(None).cast("string").alias("_corrupt_record"),
        F.lit(None).cast("string").alias("_corrupt_reason"),
        F.lit(source_name).alias("_ingest_file"),
        (F.monotonically_increasing_id() + 1).alias("_ingest_line"),
        F.lit("UTF-8").alias("_ingest_encoding"),
    )
