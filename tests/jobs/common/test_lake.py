"""The lake's file operations: row counts from Parquet footers, read without a Spark job."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession

from jobs.common.lake import LakeFiles


def write_months(spark: SparkSession, root: Path, rows_per_month: dict[str, int]) -> str:
    """A table partitioned by month, several files per month, as gold's writes make them."""
    rows = [(m, i) for m, n in rows_per_month.items() for i in range(n)]
    frame = spark.createDataFrame(rows, "year_month string, n int").repartition(3)
    frame.write.partitionBy("year_month").parquet(str(root))
    return root.as_uri()


def test_footer_rows_are_the_rows_a_spark_read_of_the_same_folders_returns(
    spark: SparkSession, tmp_path: Path
) -> None:
    table = write_months(spark, tmp_path / "t", {"2011-01": 7, "2011-02": 1200, "2011-03": 30})
    files = LakeFiles(spark)
    chosen = [f"{table}/year_month=2011-02", f"{table}/year_month=2011-03"]
    # Spark's own marker files and a hidden file are not data, for Spark or for the footers.
    (tmp_path / "t" / "year_month=2011-02" / ".hidden").write_text("not parquet")

    assert files.parquet_rows(chosen) == 1230
    assert files.parquet_rows([table]) == 1237
    assert files.parquet_rows([table]) == spark.read.parquet(table).count()
    assert files.parquet_rows([f"{table}/year_month=2099-01"]) == 0  # nothing there: no rows


def test_more_files_than_the_driver_reads_are_left_to_spark(
    spark: SparkSession, tmp_path: Path
) -> None:
    table = write_months(spark, tmp_path / "t", {"2011-01": 50, "2011-02": 50})
    files = LakeFiles(spark)
    many = len(files.list_files(table))
    assert many > 2

    assert files.parquet_rows([table], most=many - 1) is None
    assert files.parquet_rows([table], most=many) == 100
