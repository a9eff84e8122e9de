"""Bronze transforms on real Spark: encodings, line ends, headers and malformed lines."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.bronze.ingest import read_lines
from jobs.bronze.quoting import UNBALANCED, ends_inside_quotes, records_across_lines
from jobs.bronze.transforms import (
    extra_columns,
    header_problem,
    json_keys,
    number_and_decode_lines,
    parse_csv_lines,
    parse_header,
    parse_json_lines,
)

COLUMNS = ["InvoiceNo", "StockCode", "Quantity"]


def bronze_lines(spark: SparkSession, folder: Path, files: dict[str, bytes], parse=None) -> list:
    """Write files into ``folder`` and read them back as the bronze job does."""
    for name, content in files.items():
        (folder / name).write_bytes(content)
    raw = spark.read.format("text").load([str(folder / n) for n in files])
    raw = raw.select(
        F.element_at(F.split("_metadata.file_path", "/"), -1).alias("_ingest_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_row_id"),
        F.col("value").cast("binary").alias("_bytes"),
    )
    lines = number_and_decode_lines(raw)
    return (parse(lines) if parse else lines).collect()


def bronze_csv_rows(
    spark: SparkSession, folder: Path, files: dict[str, bytes], headers: dict[str, list[str]]
) -> list:
    """CSV files parsed as bronze's ``write_batch`` does: once, then, when the lines its first
    parse marks begin and end records that span lines, again with those records joined
    (``jobs.bronze.quoting``)."""

    def parse(records):
        return lambda lines: parse_csv_lines(lines, COLUMNS, headers, records)

    rows = bronze_lines(spark, folder, files, parse(None))
    marked: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        if row["_corrupt_reason"] == UNBALANCED:
            marked.setdefault(row["_ingest_file"], []).append(
                (row["_ingest_line"], row["_corrupt_record"])
            )
    records = {
        path: spans for path, lines in marked.items() if (spans := records_across_lines(lines))
    }
    return bronze_lines(spark, folder, files, parse(records)) if records else rows


@pytest.fixture
def lines_of(spark: SparkSession, tmp_path: Path):
    """Write files and read them back as the bronze job does."""
    return lambda files, parse=None: bronze_lines(spark, tmp_path, files, parse)


def test_utf8_bom_latin1_lf_and_crlf_decode_to_the_same_lines(lines_of) -> None:
    text = "InvoiceNo,StockCode,Quantity\n536365,CAFÉ,6\n"
    rows = lines_of(
        {
            "utf8": text.encode("utf-8"),
            "bom": b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"),
            "latin1": text.encode("latin-1"),
        },
    )
    by_file = {}
    for row in rows:
        by_file.setdefault(row["_ingest_file"], []).append((row["_ingest_line"], row["_line"]))
    expected = [(1, "InvoiceNo,StockCode,Quantity"), (2, "536365,CAFÉ,6")]
    assert {k: sorted(v) for k, v in by_file.items()} == {f: expected for f in by_file}
    encodings = {(r["_ingest_file"], r["_ingest_line"]): r["_ingest_encoding"] for r in rows}
    assert encodings[("latin1", 2)] == "ISO-8859-1"
    assert encodings[("bom", 2)] == encodings[("utf8", 2)] == "UTF-8"


def test_excel_windows_text_decodes_as_windows_1252_and_every_byte_is_kept(lines_of) -> None:
    """Excel's CSV on a Western Windows: the euro sign, curly quotes and a dash are bytes
    0x80-0x9F, control characters in Latin-1. A line holding a byte Windows-1252 leaves
    undefined stays Latin-1, each byte one character."""
    excel = "InvoiceNo,Description\r\n536365,\u201cCAFÉ\u201d MUG \u2013 \u20ac3\r\n"
    rows = lines_of(
        {
            "excel": excel.encode("cp1252"),
            "odd": b"InvoiceNo,Description\n536366,\x81\x93CAF\xc9\n",
            "latin1": "InvoiceNo,Description\n536367,CAFÉ\n".encode("latin-1"),
        }
    )
    got = {
        (r["_ingest_file"], r["_ingest_line"]): (r["_line"], r["_ingest_encoding"]) for r in rows
    }
    assert got[("excel", 2)] == ("536365,\u201cCAFÉ\u201d MUG \u2013 \u20ac3", "windows-1252")
    assert got[("odd", 2)] == ("536366,\x81\x93CAFÉ", "ISO-8859-1")
    assert got[("latin1", 2)] == ("536367,CAFÉ", "ISO-8859-1")
    assert got[("excel", 1)] == ("InvoiceNo,Description", "UTF-8")  # ASCII is UTF-8


def test_csv_columns_follow_the_file_header_and_malformed_lines_are_kept(lines_of) -> None:
    content = (
        b"StockCode,InvoiceNo,Quantity\n"
        b'"85123A, WHITE",536365,6\n'
        b"22633,536366\n"
        b"22633,536366,6,extra\n"
        b"\n"
        b"22634,536367,\n"
    )
    headers = {"f.csv": parse_header("StockCode,InvoiceNo,Quantity")}
    parsed = lines_of({"f.csv": content}, lambda lines: parse_csv_lines(lines, COLUMNS, headers))
    rows = {r["_ingest_line"]: r.asDict() for r in parsed}
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


def test_a_record_whose_quoted_field_holds_a_line_break_is_one_row(spark, tmp_path) -> None:
    """As Excel saves a cell with a line break: the record's quoted field goes on to the next
    line. It is read as one row under its first line, also when broken in its last field; a lone
    inch mark in an unquoted field and a doubled quote inside a quoted one are data; a quote
    ending a field it did not open is quarantined with why."""
    content = (
        b"StockCode,InvoiceNo,Quantity\n"
        b'"WHITE HANGING\n'  # line 2: the record's first line ...
        b'HEART",536365,6\n'  # line 3: ... and its second
        b'85123A,536366,"6\n'  # line 4: broken in its last field
        b'"\n'  # line 5: the end of that field
        b'12" PLATE,536367,6\n'  # line 6: an inch mark, whole
        b'"SAY ""HI"", 12"" PLATE",536368,6\n'  # line 7: doubled quotes, whole
        b'PLATE 12",536369,6\n'  # line 8: a quote that ends a field no line opened
    )
    headers = {"f.csv": parse_header("StockCode,InvoiceNo,Quantity")}
    parsed = bronze_csv_rows(spark, tmp_path, {"f.csv": content}, headers)
    rows = {r["_ingest_line"]: r.asDict() for r in parsed}
    assert sorted(rows) == [2, 4, 6, 7, 8]
    assert [rows[line]["_corrupt_reason"] for line in (2, 4, 6, 7)] == [None] * 4
    assert [rows[2][c] for c in COLUMNS] == ["536365", "WHITE HANGING\nHEART", "6"]
    assert [rows[4][c] for c in COLUMNS] == ["536366", "85123A", "6\n"]
    assert rows[6]["StockCode"] == '12" PLATE'
    assert rows[7]["StockCode"] == 'SAY "HI", 12" PLATE'
    assert rows[8]["_corrupt_reason"] == (
        "a double quote opens a field that no later line closes, or closes one that no earlier"
        " line opened"
    )
    assert rows[8]["_corrupt_record"] == 'PLATE 12",536369,6'


FIELD_TEXT = st.text(alphabet='ab ,"\n', max_size=6)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=st.lists(st.lists(FIELD_TEXT, min_size=3, max_size=3), min_size=1, max_size=6))
def test_a_csv_file_as_python_writes_it_loads_whole(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, records: list[list[str]]
) -> None:
    """Any values of commas, quotes, spaces and line breaks, written by Python's csv module (RFC
    4180): each record is one row, under its first line, holding its exact values."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    starts = []  # each record's first line number
    line = 2
    for record in records:
        written = io.StringIO()
        csv.writer(written, lineterminator="\n").writerow(record)
        starts.append(line)
        line += written.getvalue().count("\n")
        text.write(written.getvalue())
    headers = {"f.csv": parse_header(",".join(COLUMNS))}
    folder = tmp_path_factory.mktemp("quoting")
    rows = bronze_csv_rows(spark, folder, {"f.csv": text.getvalue().encode()}, headers)
    by_line = {r["_ingest_line"]: r for r in rows}
    assert sorted(by_line) == starts  # every record one row
    for record, first in zip(records, starts, strict=True):
        row = by_line[first]
        assert row["_corrupt_reason"] is None, (record, row)
        assert [row[c] for c in COLUMNS] == [v or None for v in record]  # "" reads as NULL


def test_a_record_over_three_lines_is_one_row_whatever_its_lines_look_like(
    spark: SparkSession, tmp_path: Path
) -> None:
    """An address of three lines whose middle line has the header's two commas, in a Latin-1
    file: a line that on its own reads as a record, told apart by the lines around it. A quote
    opening a field that no later line closes is quarantined on its line alone."""
    content = (
        b"StockCode,InvoiceNo,Quantity\n"
        b'"Flat 2\n'  # line 2: opens the field
        b"High St, Leeds, UK\n"  # line 3: three fields, as the header has
        b'LS1 \xa3",536365,6\n'  # line 4: closes it; a pound sign in Latin-1
        b"85123A,536367,6\n"  # line 5: a whole record
        b'85123B,536368,"no end\n'  # line 6: opens a field no line closes ...
        b"85123C,536369,6\n"  # line 7: ... so the lines after it are read one by one
    )
    headers = {"f.csv": parse_header("StockCode,InvoiceNo,Quantity")}
    rows = {
        r["_ingest_line"]: r for r in bronze_csv_rows(spark, tmp_path, {"f.csv": content}, headers)
    }
    assert sorted(rows) == [2, 5, 6, 7]
    assert rows[2]["StockCode"] == "Flat 2\nHigh St, Leeds, UK\nLS1 £"
    assert rows[2]["_ingest_encoding"] == "ISO-8859-1"
    assert (rows[2]["_corrupt_reason"], rows[5]["_corrupt_reason"]) == (None, None)
    assert rows[6]["_corrupt_reason"] == UNBALANCED
    assert (rows[7]["StockCode"], rows[7]["_corrupt_reason"]) == ("85123C", None)


def test_a_long_quoted_field_is_read_whole(spark: SparkSession, tmp_path: Path) -> None:
    """A review of 200,000 characters with commas and quotes in one quoted field, and another
    over two lines: a quoted field of about 3,000 characters once overflowed the regex's stack
    and ended the JVM."""
    text = 'said "great", ' * 15_000  # 210,000 characters, 30,000 quotes
    content = io.StringIO()
    csv.writer(content, lineterminator="\n").writerows(
        [COLUMNS, ["536365", text, "6"], ["536366", text + "\n" + text, "1"]]
    )
    headers = {"f.csv": parse_header(",".join(COLUMNS))}
    rows = {
        r["_ingest_line"]: r
        for r in bronze_csv_rows(spark, tmp_path, {"f.csv": content.getvalue().encode()}, headers)
    }
    assert sorted(rows) == [2, 3]
    assert [rows[2][c] for c in COLUMNS] == ["536365", text, "6"]
    assert [rows[3][c] for c in COLUMNS] == ["536366", text + "\n" + text, "1"]
    assert rows[2]["_corrupt_reason"] is None and rows[3]["_corrupt_reason"] is None


def test_a_reader_follows_quotes_as_rfc_4180_and_spark_read_them() -> None:
    assert ends_inside_quotes('a,"b', inside=False)
    assert ends_inside_quotes('a, "b""c', inside=False)  # spaces before the quote; doubled one
    assert not ends_inside_quotes('12" PLATE,"b"', inside=False)  # an inch mark is data
    assert not ends_inside_quotes('LS1",a', inside=True)
    assert ends_inside_quotes('LS1",a,"b', inside=True)  # closes one field, opens another
    assert ends_inside_quotes('say ""hi""', inside=True)  # doubled quotes inside a field
    # Begun on 2, its field closed and another opened on 5, ended on 6; 9 begins nothing.
    marked = [(9, 'x",1'), (6, 'c",2'), (2, '"a'), (5, 'b",1,"c')]
    assert records_across_lines(marked) == [(2, 6)]
    assert records_across_lines([(2, '"a'), (3, 'b",1'), (7, '"c'), (10, 'd"')]) == [
        (2, 3),
        (7, 10),
    ]
    assert records_across_lines([(4, 'a,"open')]) == []  # never closed: no record


def test_a_header_without_a_contract_column_marks_every_line(lines_of) -> None:
    content = b"InvoiceNo,StockCode\n536365,85123A\n"
    headers = {"f.csv": parse_header("InvoiceNo,StockCode")}
    row = lines_of({"f.csv": content}, lambda lines: parse_csv_lines(lines, COLUMNS, headers))[0]
    assert row["_corrupt_reason"] == "file header lacks column(s) Quantity"
    assert row["_corrupt_record"] == "536365,85123A"


def test_json_lines_parse_as_strings_and_bad_lines_are_kept_whole(lines_of) -> None:
    content = b'{"review_id": "r1", "rating": 5}\n{"review_id": \n[1, 2]\n'
    columns = ["review_id", "rating"]
    rows = {
        r["_ingest_line"]: r
        for r in lines_of({"r.jsonl": content}, lambda lines: parse_json_lines(lines, columns))
    }
    assert (rows[1]["review_id"], rows[1]["rating"], rows[1]["_corrupt_record"]) == (
        "r1",
        "5",
        None,
    )
    assert rows[2]["_corrupt_record"] == '{"review_id": '
    assert rows[2]["_corrupt_reason"] == "line is not valid JSON"
    assert rows[3]["_corrupt_reason"] == "line is not a JSON object"
    assert rows[3]["review_id"] is None


def test_csv_columns_beyond_the_contract_are_kept_as_the_union_of_the_files(lines_of) -> None:
    files = {
        "a.csv": b"Quantity,InvoiceNo,StockCode,Gift Note,run_id\n6,536365,85123A,for Ann,x\n",
        "b.csv": b"invoiceno,stockcode,quantity,GIFT NOTE,Channel\n536366,22633,2,,web\n",
        "c.csv": b"InvoiceNo,StockCode,Quantity\n536367,22634,1\n",
    }
    headers = {name: parse_header(content.decode().splitlines()[0]) for name, content in
               files.items()}  # fmt: skip
    parsed = lines_of(files, lambda lines: parse_csv_lines(lines, COLUMNS, headers))
    rows = {r["_ingest_file"]: r.asDict() for r in parsed}
    assert list(rows["a.csv"])[:6] == [*COLUMNS, "Gift_Note", "run_id_2", "Channel"]
    assert {f: (r["InvoiceNo"], r["Gift_Note"], r["run_id_2"], r["Channel"])
            for f, r in rows.items()} == {
        "a.csv": ("536365", "for Ann", "x", None),
        "b.csv": ("536366", None, None, "web"),
        "c.csv": ("536367", None, None, None),
    }  # fmt: skip
    assert all(r["_corrupt_record"] is None for r in rows.values())


def test_extra_columns_are_named_for_parquet_and_never_clash() -> None:
    extras = extra_columns(
        COLUMNS,
        {"a": ["InvoiceNo", "StockCode", "Quantity", "quantity", "Unit Price (€)", "",
               "_ingest_at"],
         "b": ["Unit Price (€)", "unit_price____"]},
    )  # fmt: skip
    assert [(e.name, e.source, dict(e.fields)) for e in extras] == [
        ("quantity_2", "quantity", {"a": 3}),
        ("Unit_Price____", "Unit Price (€)", {"a": 4, "b": 0}),
        ("unnamed_6", "unnamed_6", {"a": 5}),
        ("_ingest_at_2", "_ingest_at", {"a": 6}),
        ("unit_price_____2", "unit_price____", {"b": 1}),
    ]
    assert extra_columns(["rating"], {"r": ["Rating", "rating"]}, case_sensitive=True)[0].name == (
        "Rating_2"
    )


def test_json_keys_beyond_the_contract_are_kept_as_strings(lines_of) -> None:
    files = {
        "r1.jsonl": b'{"review_id": "r1", "rating": 5, "lang": "en", "tags": ["a"]}\n',
        "r2.jsonl": b'{"review_id": "r2", "Rating": 4}\n{"review_id": \n',
    }
    columns = ["review_id", "rating"]

    def parse(lines):
        keys: dict[str, list[str]] = {name: [] for name in files}
        for row in json_keys(lines).collect():
            keys[row["_ingest_file"]].append(row["key"])
        return parse_json_lines(lines, columns, {f: sorted(k) for f, k in keys.items()})

    rows = {(r["_ingest_file"], r["_ingest_line"]): r.asDict() for r in lines_of(files, parse)}
    assert {k: (r["review_id"], r["rating"], r["lang"], r["tags"], r["Rating_2"])
            for k, r in rows.items()} == {
        ("r1.jsonl", 1): ("r1", "5", "en", '["a"]', None),
        ("r2.jsonl", 1): ("r2", None, None, None, "4"),
        ("r2.jsonl", 2): (None, None, None, None, None),
    }  # fmt: skip
    assert rows[("r2.jsonl", 2)]["_corrupt_reason"] == "line is not valid JSON"


@pytest.fixture
def small_splits(spark: SparkSession) -> Iterator[None]:
    """Files above 16 KiB read in splits of 16 KiB (by many tasks), as a big file is."""
    keys = {"spark.sql.files.maxPartitionBytes": "16384", "spark.sql.files.openCostInBytes": "0"}
    saved: dict[str, str | None] = {key: spark.conf.get(key, None) for key in keys}
    for key, value in keys.items():
        spark.conf.set(key, value)
    yield
    for key, old in saved.items():
        if old is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, old)


def test_a_file_read_in_splits_keeps_every_line_and_its_number(
    spark: SparkSession, tmp_path: Path, small_splits: None
) -> None:
    from jobs.common.contracts import load_contracts_dir
    from jobs.common.lake import LakeFiles

    contract = load_contracts_dir(Path(__file__).resolve().parents[3] / "contracts")["order_lines"]
    header = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    body = [
        f"{536365 + i},85123A,MUG {i},6,12/1/2010 8:26,2.55,17850,France" if i % 97 else f"bad,{i}"
        for i in range(3000)
    ]
    # CRLF line ends, and a second small file read beside the big one.
    (tmp_path / "big.csv").write_bytes(("\r\n".join([header, *body]) + "\r\n").encode())
    (tmp_path / "small.csv").write_text(f"{header}\n{body[1]}\n")
    found = LakeFiles(spark).list_files(str(tmp_path))
    rows, _ = read_lines(spark, contract, found, set())
    assert rows.rdd.getNumPartitions() > 5  # the big file went to many tasks
    got = {(r["_ingest_file"].rsplit("/", 1)[-1], r["_ingest_line"]): r for r in rows.collect()}
    assert len(got) == len(body) + 1
    for number, line in enumerate(body, start=2):
        row = got[("big.csv", number)]
        if line.startswith("bad"):
            assert row["_corrupt_record"] == line
        else:
            assert row["_corrupt_record"] is None and row["Description"] == line.split(",")[2]
    assert got[("small.csv", 2)]["Description"] == "MUG 1"


def test_json_keys_under_an_alias_fill_the_column(lines_of) -> None:
    files = {
        "a.jsonl": b'{"review_id": "r1", "stars": 5}\n',
        "b.jsonl": b'{"review_id": "r2", "rating": 4, "stars": 1}\n',
    }
    keys = {"a.jsonl": ["review_id", "stars"], "b.jsonl": ["rating", "review_id", "stars"]}
    parse = lambda lines: parse_json_lines(  # noqa: E731
        lines, ["review_id", "rating"], keys, {"stars": "rating"}
    )
    rows = {r["_ingest_file"]: r.asDict() for r in lines_of(files, parse)}
    # Under its alias the value is the column's; beside the column the alias is one of its own.
    assert {f: (r["review_id"], r["rating"], r["stars"]) for f, r in rows.items()} == {
        "a.jsonl": ("r1", "5", None),
        "b.jsonl": ("r2", "4", "1"),
    }


def test_a_semicolon_separated_file_is_kept_whole_with_what_it_looks_like(lines_of) -> None:
    files = {"export.csv": b"InvoiceNo;StockCode;Quantity\n536365;85123A;6\n"}
    headers = {"export.csv": parse_header("InvoiceNo;StockCode;Quantity")}
    [row] = lines_of(files, lambda lines: parse_csv_lines(lines, COLUMNS, headers))
    assert row["_corrupt_record"] == "536365;85123A;6"
    assert row["_corrupt_reason"] == (
        "file header lacks column(s) InvoiceNo, StockCode, Quantity: its header is one field "
        "holding semicolons, a semicolon-separated file? bronze reads comma-separated CSV: save "
        "it with commas between fields and dots in numbers"
    )
    assert header_problem(["InvoiceNo", "StockCode"], COLUMNS) == (
        "file header lacks column(s) Quantity"
    )
    assert header_problem(["quantity", "INVOICENO", "StockCode"], COLUMNS) == ""
