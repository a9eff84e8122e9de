"""The quality records' one definition: pure Python, every type derivable from the Glue one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobs.common.records import (
    duckdb_columns,
    duckdb_type,
    glue_columns,
    make_record,
    record_file,
    spark_ddl,
    table_names,
)

ROOT = Path(__file__).resolve().parents[3]


def test_importable_without_pyspark() -> None:
    code = (
        "import sys; from jobs.common.records import glue_columns; glue_columns('quality_runs'); "
        "assert 'pyspark' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_runs_table_has_what_the_ledger_writes_beyond_the_old_definition() -> None:
    assert table_names() == ["quality_results", "quality_runs"]
    runs = dict(glue_columns("quality_runs"))
    assert runs["published"] == "boolean"
    assert runs["warned_rules"] == "array<string>"
    assert runs["schema_drift"] == (
        "struct<appeared:map<string,array<string>>,disappeared:map<string,array<string>>>"
    )
    assert dict(glue_columns("quality_results"))["fail_ratio"] == "double"


@pytest.mark.parametrize(
    ("glue", "duckdb"),
    [
        ("string", "VARCHAR"),
        ("bigint", "BIGINT"),
        ("array<string>", "VARCHAR[]"),
        ("decimal(18,3)", "DECIMAL(18,3)"),
        ("map<string,array<string>>", "MAP(VARCHAR, VARCHAR[])"),
        (
            "struct<a:bigint,b:map<string,array<string>>>",
            "STRUCT(a BIGINT, b MAP(VARCHAR, VARCHAR[]))",
        ),
    ],
)
def test_duckdb_types_derive_from_glue_types(glue: str, duckdb: str) -> None:
    assert duckdb_type(glue) == duckdb


def test_spark_ddl_and_files() -> None:
    assert spark_ddl("quality_results").startswith("`run_id` string, `dataset` string, ")
    assert record_file("quality_runs", "reviews", "r1.2") == (
        "quality/runs/dataset=reviews/run_id=r1.2/summary.json"
    )
    assert [n for n, _ in duckdb_columns("quality_runs")] == [
        n for n, _ in glue_columns("quality_runs")
    ]


def test_a_record_holds_exactly_the_defined_columns_in_order() -> None:
    names = [n for n, _ in glue_columns("quality_results")]
    values = {n: 0 for n in reversed(names)}
    assert list(make_record("quality_results", values)) == names
    with pytest.raises(KeyError, match=r"undefined keys \['extra'\], missing columns \[\]"):
        make_record("quality_results", {**values, "extra": 1})
    with pytest.raises(KeyError, match=r"missing columns \['run_id'\]"):
        make_record("quality_results", {k: v for k, v in values.items() if k != "run_id"})
