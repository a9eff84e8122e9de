"""Each row rule type on tiny in-line DataFrames: what fails, NULL by ``nulls``, ``where``."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common.contracts import RULE_TYPES, Contract, parse_contract
from jobs.common.quality import (
    DATASET_RULES,
    ROW_RULES,
    apply_row_checks,
    row_rule_check,
    well_formed_check,
)

SCHEMA = "k string, v int, _corrupt_record string, _corrupt_reason string"


def contract(row_rules: list[dict[str, Any]]) -> Contract:
    """A one-dataset contract around the rules given (ids added)."""
    return parse_contract(
        "t.yaml",
        yaml.safe_dump({
            "dataset": "t", "format": "csv", "key": ["k"], "business_date": "d",
            "deduplicate": {"strategy": "exact"},
            "columns": [{"source": "K", "name": "k", "type": "string"},
                        {"source": "V", "name": "v", "type": "int"},
                        {"source": "D", "name": "d", "type": "date"}],
            "row_rules": [{"id": f"r{i}", "severity": "error", **r}
                          for i, r in enumerate(row_rules)],
        }),
    )  # fmt: skip


def failures(
    spark: SparkSession, rule: dict[str, Any], rows: list[tuple], **frame_columns: Any
) -> list[bool]:
    """Whether each row fails the rule (rows: ``(k, v)``)."""
    frame: DataFrame = spark.createDataFrame([(*r, None, None) for r in rows], SCHEMA)
    frame = frame.withColumns(frame_columns) if frame_columns else frame
    check = row_rule_check(contract([rule]).row_rules[0], set(), {}, has_reference=True)
    assert check is not None
    ordered = frame.withColumn("_i", F.monotonically_increasing_id())
    return [r["f"] for r in ordered.select("_i", check.failed.alias("f")).orderBy("_i").collect()]


def test_every_row_rule_type_of_the_contract_schema_has_one_implementation() -> None:
    assert set(ROW_RULES) == {t for t, s in RULE_TYPES.items() if s.scope == "row"}
    assert set(DATASET_RULES) == {t for t, s in RULE_TYPES.items() if s.scope == "dataset"}


def test_not_null_fails_a_missing_value_whatever_nulls_says(spark: SparkSession) -> None:
    rule = {"type": "not_null", "column": "k", "nulls": "pass"}
    assert failures(spark, rule, [("a", 1), (None, 1)]) == [False, True]


@pytest.mark.parametrize(("nulls", "on_null"), [("pass", False), ("fail", True)])
@pytest.mark.parametrize(
    ("rule", "rows", "expected"),
    [
        ({"type": "accepted_values", "column": "k", "values": ["a", "b"]},
         [("a", 0), ("z", 0)], [False, True]),
        # Bounds are inclusive: exactly min or max passes.
        ({"type": "range", "column": "v", "min": 0, "max": 10},
         [("a", -1), ("a", 0), ("a", 10), ("a", 11)], [True, False, False, True]),
        ({"type": "range", "column": "v", "min": 5}, [("a", 4), ("a", 500)], [True, False]),
        ({"type": "regex", "column": "k", "pattern": "^[A-Z]+$"},
         [("AB", 0), ("Ab", 0)], [False, True]),
        ({"type": "length", "column": "k", "min": 2, "max": 3},
         [("a", 0), ("ab", 0), ("abc", 0), ("abcd", 0)], [True, False, False, True]),
        ({"type": "expression", "expression": "v > 0"}, [("a", 1), ("a", 0)], [False, True]),
    ],
)  # fmt: skip
def test_value_rules_and_their_null_policy(
    spark: SparkSession,
    rule: dict[str, Any],
    rows: list[tuple],
    expected: list[bool],
    nulls: str,
    on_null: bool,
) -> None:
    null_row = ("x", None) if rule.get("column", "v") == "v" else (None, 0)
    got = failures(spark, {**rule, "nulls": nulls}, [*rows, null_row])
    assert got == [*expected, on_null]


@pytest.mark.parametrize(("nulls", "on_null"), [("pass", False), ("fail", True)])
def test_unique_fails_every_copy_of_a_repeated_value(
    spark: SparkSession, nulls: str, on_null: bool
) -> None:
    rule = {"type": "unique", "column": "k", "nulls": nulls}
    rows = [("a", 1), ("b", 1), ("a", 2), (None, 1), (None, 2)]
    assert failures(spark, rule, rows) == [True, False, True, on_null, on_null]


@pytest.mark.parametrize(("nulls", "on_null"), [("pass", False), ("fail", True)])
def test_foreign_key_fails_a_key_not_found(spark: SparkSession, nulls: str, on_null: bool) -> None:
    rule = {"type": "foreign_key", "column": "k", "reference": {"dataset": "p", "column": "k"},
            "nulls": nulls}  # fmt: skip
    found = F.col("k") == "a"  # the flag the engine joins in: key found in p
    got = failures(spark, rule, [("a", 1), ("b", 1), (None, 1)], _ref_k__p__k=found)
    assert got == [False, True, on_null]


def test_foreign_key_to_an_absent_dataset_is_skipped() -> None:
    rule = contract([{"type": "foreign_key", "column": "k",
                      "reference": {"dataset": "p", "column": "k"}}]).row_rules[0]  # fmt: skip
    assert row_rule_check(rule, set(), {}, has_reference=False) is None


def test_where_limits_a_rule_to_the_rows_it_holds_for_and_null_means_out(
    spark: SparkSession,
) -> None:
    rule = {"type": "range", "column": "v", "min": 0, "where": "k = 'checked'"}
    rows = [("checked", -1), ("other", -1), (None, -1), ("checked", 1)]
    assert failures(spark, rule, rows) == [True, False, False, False]


def test_a_value_that_did_not_parse_is_left_to_its_parse_rule(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("a", None, None, None, True)], f"{SCHEMA}, bad boolean")
    rule = contract([{"type": "not_null", "column": "v"}]).row_rules[0]
    check = row_rule_check(rule, set(), {"v": F.col("bad")}, has_reference=False)
    assert check is not None
    assert frame.select(check.failed.alias("f")).collect()[0]["f"] is False


def test_reasons_show_the_value_or_pii_and_a_malformed_line_fails_only_well_formed(
    spark: SparkSession,
) -> None:
    c = contract([{"type": "accepted_values", "column": "k", "values": ["a"]}])
    rule = c.row_rules[0]
    shown, hidden = (row_rule_check(rule, pii, {}, False) for pii in (set(), {"k"}))
    assert shown is not None and hidden is not None
    frame = spark.createDataFrame(
        [("z", 1, None, None), ("z", 1, "z,1,2", "3 fields, header has 2")], SCHEMA
    )
    rows = apply_row_checks(frame, [well_formed_check(c), shown]).collect()
    assert rows[0]["dq_reasons"] == ["r0: k z is not one of ['a']"]
    assert rows[1]["dq_failed_rules"] == ["t_well_formed"]
    assert rows[1]["dq_reasons"] == ["t_well_formed: malformed line: 3 fields, header has 2"]
    reason = frame.limit(1).select(hidden.reason.alias("r")).collect()[0]["r"]
    assert reason == "k <pii> is not one of ['a']"


@pytest.mark.parametrize(
    ("rule", "row", "reason"),
    [
        ({"type": "range", "column": "v", "min": 0, "max": 10}, ("a", 11),
         "v 11 is outside [0, 10]"),
        ({"type": "range", "column": "v", "min": 0}, ("a", -1), "v -1 is not >= 0"),
        ({"type": "range", "column": "v", "max": 100}, ("a", 101), "v 101 is not <= 100"),
        ({"type": "range", "column": "v", "min": 0.5}, ("a", 0), "v 0 is not >= 0.5"),
        ({"type": "length", "column": "k", "min": 2, "max": 3}, ("a", 0),
         "k has length 1, allowed [2, 3]"),
        ({"type": "length", "column": "k", "min": 2}, ("a", 0), "k has length 1, not >= 2"),
    ],
)  # fmt: skip
def test_a_bound_reason_names_only_the_bounds_the_rule_has(
    spark: SparkSession, rule: dict[str, Any], row: tuple, reason: str
) -> None:
    check = row_rule_check(contract([rule]).row_rules[0], set(), {}, has_reference=True)
    assert check is not None
    frame = spark.createDataFrame([(*row, None, None)], SCHEMA)
    assert frame.select(check.reason.alias("r")).first()["r"] == reason  # type: ignore[index]
