"""Gold reads silver's types from the contracts: only the columns the marts use."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.common.contracts import load_contracts_dir
from jobs.gold.inputs import MART_INPUTS, silver_schema, silver_schemas

CONTRACTS = load_contracts_dir(Path(__file__).resolve().parents[3] / "contracts")


def test_the_contracts_give_the_types_docs_layers_md_states(spark: SparkSession) -> None:
    ddl = {name: schema.simpleString() for name, schema in silver_schemas(spark, CONTRACTS).items()}
    assert ddl == {
        "order_lines": (
            "struct<invoice_no:string,stock_code:string,description:string,quantity:int,"
            "invoiced_at:timestamp,customer_id:bigint,country:string,is_cancellation:boolean,"
            "is_product:boolean,line_amount:decimal(18,3)>"
        ),
        "products": "struct<stock_code:string,description:string,category:string>",
        "inventory": (
            "struct<snapshot_date:date,stock_code:string,warehouse:string,on_hand:int,on_order:int>"
        ),
        "reviews": "struct<stock_code:string,rating:int,created_at:timestamp>",
    }


def test_a_type_changed_in_the_contract_flows_to_gold_and_derived_columns_follow(
    spark: SparkSession,
) -> None:
    lines = CONTRACTS["order_lines"]
    wider = tuple(replace(c, type="bigint") if c.name == "quantity" else c for c in lines.columns)
    schema = silver_schema(spark, replace(lines, columns=wider), MART_INPUTS["order_lines"])
    assert schema["quantity"].dataType.simpleString() == "bigint"
    assert schema["line_amount"].dataType.simpleString() == "decimal(18,3)"
    assert schema.fieldNames() == list(MART_INPUTS["order_lines"])


def test_a_column_gold_needs_missing_from_the_contract_is_named(spark: SparkSession) -> None:
    reviews = CONTRACTS["reviews"]
    without = tuple(c for c in reviews.columns if c.name != "rating")
    with pytest.raises(KeyError, match=r"gold needs silver column\(s\) \['rating'\]"):
        silver_schema(spark, replace(reviews, columns=without), MART_INPUTS["reviews"])
