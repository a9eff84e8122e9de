"""The jobs' Spark runtime: PySpark's most used JVM classes are resolved once per JVM view."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyspark
import pytest
from py4j.java_gateway import JavaClass, JavaMember, JVMView
from pyspark.sql import Row, SparkSession
from pyspark.sql import functions as F

from jobs.common.runtime import (
    CLASS_ARCHIVE_SETTING,
    PINNED_CLASSES,
    StaticMembers,
    class_archive_options,
    class_archive_path,
    get_spark,
    java_command,
)


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


# --- the class archive (medallion.local.classcache, built by scripts/setup.sh) -----------------
def spark_class_path() -> str:
    """The class path spark-submit gives the JVM: PySpark's conf directory and its jars."""
    home = Path(pyspark.__file__).parent
    return f"{home / 'conf'}:{home / 'jars'}/*"


def test_setup_built_a_class_archive_this_java_maps_with_sparks_class_path() -> None:
    path = class_archive_path()
    assert path is not None and Path(path).is_file(), (
        f"no class archive at {path}: scripts/setup.sh builds it "
        "(python -m medallion.local.classcache)"
    )
    java = java_command()
    assert java is not None
    # -Xshare:on: the JVM refuses to start unless it can map the archive.
    strict = [java, "-Xshare:on", f"-XX:SharedArchiveFile={path}"]
    mapped = subprocess.run(
        [*strict, "-cp", spark_class_path(), "-version"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert mapped.returncode == 0, mapped.stderr
    other = subprocess.run(
        [*strict, "-cp", "/", "-version"], capture_output=True, text=True, timeout=120
    )
    assert other.returncode != 0  # the check can fail: another class path is refused


def test_the_local_jvm_starts_with_the_archive(spark: SparkSession) -> None:
    path = class_archive_path()
    assert path is not None
    jvm = spark.sparkContext._jvm
    arguments = list(
        jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    )
    assert f"-XX:SharedArchiveFile={path}" in arguments


def test_no_archive_option_without_an_archive_or_when_turned_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert class_archive_options() == ""  # none built under this prefix
    path = class_archive_path()
    assert path is not None and path.startswith(str(tmp_path))
    Path(path).parent.mkdir(parents=True)
    Path(path).write_bytes(b"archive")
    assert f"-XX:SharedArchiveFile={path}" in class_archive_options()
    monkeypatch.setenv(CLASS_ARCHIVE_SETTING, "off")
    assert class_archive_options() == ""
