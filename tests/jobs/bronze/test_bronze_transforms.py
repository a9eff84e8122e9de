"""Bronze transforms on real Spark: encodings, line ends, headers and malformed lines."""

from __future__ import annotations

from pyspark.sql import SparkSession

from jobs.bronze.transforms import parse_csv_lines, parse_json_lines, split_into_lines

COLUMNS = ["InvoiceNo", "StockCode", "Quantity"]


def lines_of(spark: SparkSession, files: dict[str, bytes]):
    frame = spark.createDataFrame(
        [(path, bytearray(content)) for path, content in files.items()],
        "path string, content binary",
    )
    return split_into_lines(frame)


def test_utf8_bom_latin1_lf_and_crlf_decode_to_the_same_lines(spark: SparkSession) -> None:
    text = "InvoiceNo,StockCode,Quantity\n536365,CAFÉ,6\n"
    rows = lines_of(
        spark,
        {
            "utf8": text.encode("utf-8"),
            "bom": b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"),
            "latin1": text.encode("latin-1"),
        },
    ).collect()
    by_file = {}
    for row in rows:
        by_file.setdefault(row["_ingest_file"], []).append((row["_ingest_line"], row["_line"]))
    expected = [(1, "InvoiceNo,StockCode,Quantity"), (2, "536365,CAFÉ,6")]
    assert {k: sorted(v) for k, v in by_file.items()} == {f: expected for f in by_file}
    encodings = {r["_ingest_file"]: r["_ingest_encoding"] for r in rows}
    assert encodings == {"utf8": "UTF-8", "bom": "UTF-8-BOM", "latin1": "ISO-8859-1"}


def test_csv_columns_follow_the_file_header_and_malformed_lines_are_kept(
    spark: SparkSession,
) -> None:
    content = (
        b"StockCode,InvoiceNo,Quantity\n"
        b'"85123A, WHITE",536365,6\n'
        b"22633,536366\n"
        b"22633,536366,6,extra\n"
        b"\n"
        b"22634,536367,\n"
    )
    parsed = parse_csv_lines(lines_of(spark, {"f.csv": content}), COLUMNS)
    rows = {r["_ingest_line"]: r.asDict() for r in parsed.collect()}
    assert sorted(rows) == [2, 3, 4, 5, 6]
    assert (rows[2]["InvoiceNo"], rows[2]["StockCode"], rows[2]["Quantity"]) == (
        "536365", "85123A, WHITE", "6",
    )  # fmt: skip
    assert rows[2]["_corrupt_record"] is None
    assert rows[3]["_corrupt_record"] == "22633,536366"
    assert rows[3]["_corrupt_reason"] == "line has 2 fields, the header has 3"
    assert rows[4]["_corrupt_reason"] == "line has 4 fields, the header has 3"
    assert rows[5]["_corrupt_reason"] == "blank line"
    assert rows[6]["_corrupt_record"] is None and rows[6]["Quantity"] is None


def test_a_header_without_a_contract_column_marks_every_line(spark: SparkSession) -> None:
    content = b"InvoiceNo,StockCode\n536365,85123A\n"
    row = parse_csv_lines(lines_of(spark, {"f.csv": content}), COLUMNS).collect()[0]
    assert row["_corrupt_reason"] == "file header lacks column(s) Quantity"
    assert row["_corrupt_record"] == "536365,85123A"


def test_json_lines_parse_as_strings_and_bad_lines_are_kept_whole(spark: SparkSession) -> None:
    content = b'{"review_id": "r1", "rating": 5}\n{"review_id": \n[1, 2]\n'
    parsed = parse_json_lines(lines_of(spark, {"r.jsonl": content}), ["review_id", "rating"])
    rows = {r["_ingest_line"]: r for r in parsed.collect()}
    assert (rows[1]["review_id"], rows[1]["rating"], rows[1]["_corrupt_record"]) == (
        "r1",
        "5",
        None,
    )
    assert rows[2]["_corrupt_record"] == '{"review_id": '
    assert rows[2]["_corrupt_reason"] == "line is not valid JSON"
    assert rows[3]["_corrupt_reason"] == "line is not a JSON object"
    assert rows[3]["review_id"] is None
