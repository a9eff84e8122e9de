"""The jobs' Spark runtime: PySpark's most used JVM classes are resolved once per JVM view."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from py4j.java_gateway import JavaClass, JavaMember, JVMView
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from jobs.common.runtime import PINNED_CLASSES, StaticMembers, get_spark


@pytest.fixture
def jvm_lookups(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every name py4j is asked to resolve through a JVM view or a class, counted."""
    counts: Counter[str] = Counter()
    view_lookup, class_lookup = JVMView.__getattr__, JavaClass.__getattr__

    def on_view(view: JVMView, name: str) -> Any:
        counts[name] += 1
        return view_lookup(view, name)

    def on_class(java_class: JavaClass, name: str) -> Any:
        counts[f"{java_class._fqn}.{name}"] += 1
        return class_lookup(java_class, name)

    monkeypatch.setattr(JVMView, "__getattr__", on_view)
    monkeypatch.setattr(JavaClass, "__getattr__", on_class)
    yield counts


def test_pyspark_functions_reach_the_jvm_without_a_lookup_per_call(
    spark: SparkSession, jvm_lookups: Counter[str]
) -> None:
    jvm = spark.sparkContext._jvm
    assert all(isinstance(vars(jvm).get(name), StaticMembers) for name in PINNED_CLASSES)
    frame = spark.createDataFrame([Row(a=1, b="x"), Row(a=2, b="y"), Row(a=3, b="x")])
    for _ in range(3):
        out = frame.where(F.col("b") == F.lit("x")).select(
            (F.col("a") * 10).alias("a10"), F.upper(F.col("b")).alias("b")
        )
    assert sorted(tuple(r) for r in out.collect()) == [(10, "X"), (30, "X")]
    # Neither the classes nor their methods were asked for again: 3 rounds of col, lit, upper.
    assert jvm_lookups["functions"] == 0
    assert jvm_lookups["PythonUtils"] == 0
    assert jvm_lookups["org.apache.spark.sql.functions.col"] <= 1
    assert isinstance(vars(jvm.functions)["col"], JavaMember)


def test_pinning_again_keeps_the_first_resolution(spark: SparkSession) -> None:
    jvm = spark.sparkContext._jvm
    pinned = {name: vars(jvm)[name] for name in PINNED_CLASSES}
    assert get_spark("medallion-tests", glue=False) is spark  # getOrCreate: the same session
    assert {name: vars(jvm)[name] for name in PINNED_CLASSES} == pinned


def test_a_static_field_is_read_each_time_not_kept(spark: SparkSession) -> None:
    jvm = spark.sparkContext._jvm
    system = StaticMembers(jvm.java.lang.System)
    first = system.currentTimeMillis()
    assert isinstance(vars(system)["currentTimeMillis"], JavaMember)
    assert system.currentTimeMillis() >= first
    integer = StaticMembers(jvm.java.lang.Integer)
    assert integer.MAX_VALUE == 2**31 - 1  # a field: its value, looked up, not kept
    assert "MAX_VALUE" not in vars(integer)
