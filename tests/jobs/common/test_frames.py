"""jobs.common.frames: the driver's values as DataFrames without Python workers."""

from __future__ import annotations

import math
from datetime import date

import pytest
from pyspark.sql import DataFrame, Row, SparkSession

from jobs.common import frames

SCHEMA = "name string, day date, big bigint, small int, flag boolean, x double"
DATA = [
    ("plain", date(2011, 12, 9), 2**62, -7, True, 0.1 + 0.2),
    ('quote " back\\slash\nnew line, ü', date(1970, 1, 1), -(2**63), 2**31 - 1, False, 1e-308),
    (None, None, None, None, None, None),
    ("nan", date(2099, 12, 31), 0, 0, True, math.nan),
    ("inf", date(2011, 1, 2), 1, 1, False, -math.inf),
    ("tiny", date(2011, 1, 3), 2, 2, False, 5e-324),
    ("third", date(2011, 1, 4), 3, 3, True, 1 / 3),
]


def plan_of(frame: DataFrame) -> str:
    return str(frame._jdf.queryExecution().executedPlan().toString())


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)


def test_rows_equal_create_dataframe_value_for_value(spark: SparkSession) -> None:
    """Every value and type as createDataFrame (Python workers) gives it; the doubles exact."""
    built = frames.rows(spark, DATA, SCHEMA)
    expected = spark.createDataFrame(DATA, SCHEMA)
    assert built.schema == expected.schema
    got, want = built.collect(), expected.collect()
    assert len(got) == len(want) == len(DATA)
    for g, w in zip(got, want, strict=True):
        assert all(same(a, b) for a, b in zip(g, w, strict=True)), (g, w)
    assert "ExistingRDD" not in plan_of(built)  # no RDD of Python rows: no Python worker


def test_rows_take_dicts_and_rows_by_name(spark: SparkSession) -> None:
    names = ["name", "day", "big", "small", "flag", "x"]
    as_dicts = [dict(zip(names, r, strict=True)) for r in DATA[:2]]
    as_rows = [Row(**d) for d in as_dicts]
    for data in (as_dicts, as_rows):
        assert (
            frames.rows(spark, data, SCHEMA).collect()
            == frames.rows(spark, DATA[:2], SCHEMA).collect()
        )


def test_a_value_that_does_not_fit_fails_never_a_null(spark: SparkSession) -> None:
    with pytest.raises(Exception, match=r"(?i)malformed|parse|FAILFAST"):
        frames.rows(spark, [("a", "not a date", 1, 1, True, 1.0)], SCHEMA).collect()
    with pytest.raises(ValueError, match="columns not in the schema"):
        frames.rows(spark, [{"nom": "a"}], SCHEMA)
    with pytest.raises(ValueError, match="a row of 2 values for 6 columns"):
        frames.rows(spark, [("a", None)], SCHEMA)
    with pytest.raises(TypeError, match="cannot put a set"):
        frames.rows(spark, [("a", None, None, None, None, {1})], SCHEMA)


def test_empty_runs_no_task_and_still_writes_its_schema(spark: SparkSession, tmp_path) -> None:
    nothing = frames.empty(spark, SCHEMA)
    assert nothing._jdf.rdd().getNumPartitions() == 0  # no task, so no Python worker
    assert frames.rows(spark, [], SCHEMA)._jdf.rdd().getNumPartitions() == 0
    nothing.write.parquet(str(tmp_path / "t"))
    assert len(list((tmp_path / "t").glob("*.parquet"))) == 1  # the schema's one file
    back = spark.read.parquet(str(tmp_path / "t"))
    assert back.count() == 0
    assert back.schema == spark.createDataFrame([], SCHEMA).schema
