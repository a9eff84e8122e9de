"""Database rows to bronze text: one rendering per type, the lineage, extra columns; and the
types Spark's own SQL Server dialect reads, which decide what a SQL Server watermark can be."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from jobs.bronze.database import database_rows, watermark_kind

SCHEMA = T.StructType(
    [
        T.StructField("ID", T.LongType()),
        T.StructField("at_ntz", T.TimestampNTZType()),
        T.StructField("at_tz", T.TimestampType()),
        T.StructField("day", T.DateType()),
        T.StructField("amount", T.DecimalType(12, 2)),
        T.StructField("flag", T.BooleanType()),
        T.StructField("blob", T.BinaryType()),
        T.StructField("tags", T.ArrayType(T.StringType())),
        T.StructField("Gift Note", T.StringType()),
    ]
)


def test_database_rows_render_each_type_once_and_keep_extras(spark: SparkSession) -> None:
    rows = spark.createDataFrame(
        [
            (7, datetime(2024, 6, 1, 8, 0), datetime(2024, 6, 1, 8, 0, 0, 250000),
             date(2024, 2, 29), Decimal("1234.50"), True, b"\x00\x01", ["a", "b"], "hi"),
            (8, None, None, None, None, None, None, None, None),
        ],
        SCHEMA,
    )  # fmt: skip
    out = database_rows(
        rows, ["id", "at_ntz", "at_tz", "day", "amount", "flag", "missing"], "jdbc:x"
    )
    assert out.columns[:7] == ["id", "at_ntz", "at_tz", "day", "amount", "flag", "missing"]
    assert out.columns[7:10] == ["blob", "tags", "Gift_Note"]
    assert all(f.dataType == T.StringType() for f in out.schema.fields if f.name != "_ingest_line")
    first, second = sorted(out.collect(), key=lambda r: r["id"])
    assert first["id"] == "7"
    assert first["at_ntz"] == "2024-06-01 08:00:00"
    assert first["at_tz"] == "2024-06-01 08:00:00.250000"
    assert (first["day"], first["amount"], first["flag"]) == ("2024-02-29", "1234.50", "true")
    assert (first["blob"], first["tags"], first["Gift_Note"]) == ("AAE=", '["a","b"]', "hi")
    assert first["missing"] is None and second["at_ntz"] is None
    assert {r["_ingest_file"] for r in (first, second)} == {"jdbc:x"}
    assert first["_ingest_line"] != second["_ingest_line"]
    assert first["_corrupt_record"] is None and first["_ingest_encoding"] == "UTF-8"


def test_watermark_kinds_by_type() -> None:
    assert watermark_kind(T.TimestampNTZType()) == "timestamp"
    assert watermark_kind(T.TimestampType()) == "timestamptz"
    assert watermark_kind(T.IntegerType()) == "integer"
    assert watermark_kind(T.DecimalType(20, 0)) == "integer"
    assert watermark_kind(T.DecimalType(20, 2)) is None
    assert watermark_kind(T.StringType()) is None


def test_what_spark_reads_from_sql_server_types(spark: SparkSession) -> None:
    """Spark's MsSqlServerDialect, asked directly (no server): DATETIMEOFFSET arrives as a
    string, so it cannot be a watermark as is (docs/database-sources.md says what to do);
    DATETIME2 and BIT take the generic JDBC mapping (no dialect override)."""
    jvm = spark._jvm
    assert jvm is not None
    dialect = jvm.org.apache.spark.sql.jdbc.JdbcDialects.get(
        "jdbc:sqlserver://h:1433;databaseName=d"
    )
    assert dialect.getClass().getName() == "org.apache.spark.sql.jdbc.MsSqlServerDialect$"
    builder = jvm.org.apache.spark.sql.types.MetadataBuilder

    def catalyst(code: int, name: str) -> str:
        return str(dialect.getCatalystType(code, name, 10, builder()).toString())

    assert catalyst(-155, "datetimeoffset") == "Some(StringType)"
    assert watermark_kind(T.StringType()) is None
    assert catalyst(93, "datetime2") == "None"
    assert catalyst(-7, "bit") == "None"
    assert catalyst(5, "smallint") == "Some(ShortType)"
    assert watermark_kind(T.ShortType()) == "integer"
