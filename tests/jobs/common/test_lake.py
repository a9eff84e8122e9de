"""The lake's file operations: row counts from Parquet footers, read without a Spark job."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def hadoop_listing(spark: SparkSession, uri: str) -> list[tuple[str, int, int]]:
    """Every file below ``uri`` as Hadoop's own recursive listing reports it (no hidden names)."""
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[attr-defined]
    listed = fs.listFiles(path, True)
    found = []
    while listed.hasNext():
        status = listed.next()
        name = status.getPath().toString()
        if not name.rsplit("/", 1)[-1].startswith((".", "_")):
            found.append((name, status.getLen(), status.getModificationTime()))
    return sorted(found)


def test_a_local_listing_names_sizes_and_dates_files_as_hadoop_does(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The driver lists a local lake itself; what it finds is what Hadoop's file system finds:
    the same names (spaces and other characters as they are), sizes and modification times,
    hidden and marker files left out, files in hidden folders kept (their readers skip them)."""
    table = write_months(spark, tmp_path / "t", {"2011-01": 5, "2011-02": 9})
    landing = tmp_path / "my landing" / "order_lines"
    landing.mkdir(parents=True)
    (landing / "my orders 2011.csv").write_text("a,b\n1,2\n")
    (landing / "50% off #1 é.csv").write_text("x\n")
    (landing / "_SUCCESS").write_text("")
    (tmp_path / "t" / "_temporary" / "0").mkdir(parents=True)
    (tmp_path / "t" / "_temporary" / "0" / "part-0.parquet").write_text("unfinished")
    files = LakeFiles(spark)

    for uri in (table, str(tmp_path / "my landing"), f"file:{tmp_path}"):
        listed = [(f.path, f.size, f.modified_ms) for f in files.list_files(uri)]
        assert listed == hadoop_listing(spark, uri)
        assert listed
    assert files.list_files((tmp_path / "nothing").as_uri()) == []


def test_a_text_file_that_cannot_be_read_whole_is_an_error_not_a_cut_text(
    spark: SparkSession, tmp_path: Path
) -> None:
    files = LakeFiles(spark)
    uri = (tmp_path / "state.json").as_uri()
    files.write_text(uri, '{"version": 4}')
    assert files.read_text(uri) == '{"version": 4}'
    # Changed behind Hadoop's back: its checksum file no longer matches, and its read fails.
    (tmp_path / "state.json").write_text('{"version": 3, "more": true}')
    with pytest.raises(OSError, match=r"state\.json could not be read"):
        files.read_text(uri)
