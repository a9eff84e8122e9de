"""The schema drift result: columns that appeared or disappeared, by file, warn or fail."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jobs.common.contracts import load_contracts_dir, parse_contract
from jobs.common.quality import gate_failures, schema_drift, schema_drift_verdict
from medallion.sample.postgres import database_contract

CONTRACTS = load_contracts_dir(Path(__file__).resolve().parents[4] / "contracts")
ORDER_HEADER = [
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
    "CustomerID", "Country",
]  # fmt: skip


def test_csv_headers_compare_in_any_case_and_name_columns_and_files() -> None:
    contract = CONTRACTS["order_lines"]
    drift = schema_drift(
        contract,
        {
            "s3://b/landing/order_lines/a.csv": [c.lower() for c in ORDER_HEADER],
            "s3://b/landing/order_lines/b.csv": [*ORDER_HEADER[:-1], "Gift Note"],
        },
    )
    verdict = schema_drift_verdict(contract, drift)
    assert drift.summary() == {
        "appeared": {"Gift Note": ["s3://b/landing/order_lines/b.csv"]},
        "disappeared": {"Country": ["s3://b/landing/order_lines/b.csv"]},
    }
    assert (verdict.rule_id, verdict.severity, verdict.status) == (
        "order_lines_schema_drift", "warn", "warn",
    )  # fmt: skip
    assert (verdict.checked, verdict.failed, verdict.target) == (2, 1, "Gift Note,Country")
    assert verdict.message == (
        "columns appeared: Gift Note (b.csv); columns disappeared: Country (b.csv)"
    )
    assert gate_failures([verdict]) == []


def test_json_keys_compare_by_exact_name_and_fail_when_the_contract_says_so() -> None:
    contract = replace(CONTRACTS["reviews"], on_schema_change="fail")
    keys = sorted(contract.source_columns)
    files = {f"r{i}.jsonl": [*keys, "Rating"] for i in range(5)}
    verdict = schema_drift_verdict(contract, schema_drift(contract, files))
    assert (verdict.severity, verdict.status, verdict.failed) == ("error", "fail", 5)
    assert verdict.message == ("columns appeared: Rating (r0.jsonl, r1.jsonl, r2.jsonl and 2 more)")
    assert gate_failures([verdict]) == [f"reviews_schema_drift ({verdict.message})"]


def test_no_drift_passes_and_no_recorded_columns_skips() -> None:
    contract = CONTRACTS["order_lines"]
    same = schema_drift_verdict(contract, schema_drift(contract, {"a.csv": ORDER_HEADER}))
    assert (same.status, same.message) == ("pass", "all 1 files have the contract's columns")
    unknown = schema_drift_verdict(contract, schema_drift(contract, {}))
    assert unknown.status == "skipped"


def test_a_database_sources_watermark_column_is_not_drift_but_a_new_column_is() -> None:
    """The contracts ``medallion generate --postgres`` writes read each table incrementally by
    its ``row_id``, which the contract does not name; every extraction brings it."""
    shipped = (Path(__file__).resolve().parents[4] / "contracts" / "customers.yaml").read_text()
    contract = parse_contract("customers.yaml", database_contract(shipped, "retail", "customers"))
    assert contract.database is not None and contract.database.watermark_column == "row_id"
    assert "row_id" not in contract.source_columns
    table = [*contract.source_columns, "row_id"]
    same = schema_drift_verdict(contract, schema_drift(contract, {"retail.customers": table}))
    assert (same.status, same.message) == ("pass", "all 1 files have the contract's columns")
    grown = schema_drift(contract, {"retail.customers": [*table, "tier"]})
    assert grown.summary() == {"appeared": {"tier": ["retail.customers"]}, "disappeared": {}}


def test_a_column_under_its_alias_is_no_drift_and_an_alias_beside_it_is_a_column() -> None:
    contract = CONTRACTS["order_lines"]  # Online Retail II's Invoice, Price, Customer ID
    second = ["Invoice", *ORDER_HEADER[1:5], "price", "Customer ID", "Country"]
    both = [*ORDER_HEADER, "Invoice"]
    drift = schema_drift(contract, {"ii.csv": second, "both.csv": both})
    assert drift.summary() == {"appeared": {"Invoice": ["both.csv"]}, "disappeared": {}}
