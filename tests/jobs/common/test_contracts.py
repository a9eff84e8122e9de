"""Contracts load into typed objects; a malformed one fails naming the file, rule and problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.common.config import select_datasets
from jobs.common.contracts import load_contracts, load_contracts_dir, parse_contract
from jobs.common.errors import ContractError, JobArgumentError

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


def test_the_shipped_contracts_load() -> None:
    contracts = load_contracts_dir(CONTRACTS)
    assert set(contracts) == {"order_lines", "customers", "products", "inventory", "reviews"}
    orders = contracts["order_lines"]
    assert orders.format == "csv" and orders.dedupe_strategy == "exact"
    assert orders.source_columns[:2] == ["InvoiceNo", "StockCode"]
    assert {r.severity for r in orders.row_rules} == {"error", "warn"}
    assert contracts["customers"].pii == ("customer_name", "email", "phone")
    assert contracts["reviews"].format == "jsonl"
    for contract in contracts.values():
        for rule in contract.row_rules:
            assert rule.nulls in {"pass", "fail"}, rule.id


def test_datasets_come_in_dependency_order() -> None:
    contracts = load_contracts_dir(CONTRACTS)
    order = select_datasets(contracts, ())
    assert order.index("products") < order.index("order_lines")
    assert order.index("products") < order.index("reviews")
    assert select_datasets(contracts, ("order_lines",)) == ["order_lines"]
    with pytest.raises(JobArgumentError, match="unknown dataset"):
        select_datasets(contracts, ("orders",))


def _broken(mutate) -> str:
    data = yaml.safe_load((CONTRACTS / "reviews.yaml").read_text())
    mutate(data)
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["row_rules"][3].update(type="between"),
            r"rule 'reviews_rating_range'.*'type'",
        ),
        (lambda d: d["row_rules"][3].pop("severity"), r"rule 'reviews_rating_range'.*'severity'"),
        (lambda d: d["row_rules"][3].update(column="stars"), r"column 'stars' is not a column"),
        (lambda d: d["row_rules"][3].update(nulls="maybe"), r"'nulls' is 'maybe'"),
        (lambda d: d["dataset_rules"][1].update(max_fail_ratio=3), r"between 0 and 1"),
        (lambda d: d["columns"][3].update(type="integer"), r"columns\[3\].*type 'integer'"),
        (
            lambda d: d["row_rules"].append(
                {"id": "x", "type": "regex", "column": "title", "severity": "warn", "pattern": "(["}
            ),
            r"not a valid regex",
        ),
        (lambda d: d["row_rules"][0].update(id="reviews_rating_range"), r"unique"),
        (lambda d: d.update(colour="blue"), r"unknown field"),
        (
            lambda d: d.update(on_schema_change="stop"),
            r"^contracts/reviews.yaml: field 'on_schema_change' is 'stop'; "
            r"expected one of \['fail', 'warn'\]$",
        ),
        (lambda d: d.update(on_schema_change=True), r"field 'on_schema_change' must be str"),
        (
            lambda d: d["columns"][0].update(aliases=[d["columns"][1]["source"].upper()]),
            r"source name or alias names another column too",
        ),
        (lambda d: d["columns"][0].update(aliases="id"), r"aliases.*must be list"),
        (lambda d: d["columns"][0].update(aliases=[" "]), r"aliases must be a list of column"),
    ],
)
def test_a_malformed_contract_names_file_rule_and_problem(mutate, message: str) -> None:
    with pytest.raises(ContractError, match=message) as error:
        parse_contract("contracts/reviews.yaml", _broken(mutate))
    assert str(error.value).startswith("contracts/reviews.yaml:")


def test_on_schema_change_is_warn_unless_the_contract_says_fail() -> None:
    assert {c.on_schema_change for c in load_contracts_dir(CONTRACTS).values()} == {"warn"}
    absent = parse_contract("reviews.yaml", _broken(lambda d: d.pop("on_schema_change")))
    assert absent.on_schema_change == "warn"
    strict = parse_contract("reviews.yaml", _broken(lambda d: d.update(on_schema_change="fail")))
    assert strict.on_schema_change == "fail"


def test_file_name_must_match_dataset_and_references_must_exist() -> None:
    text = (CONTRACTS / "reviews.yaml").read_text()
    with pytest.raises(ContractError, match="must match the file name"):
        load_contracts({"ratings.yaml": text})
    with pytest.raises(ContractError, match="references unknown dataset 'products'"):
        load_contracts({"reviews.yaml": text})
    with pytest.raises(ContractError, match="not valid YAML"):
        parse_contract("x.yaml", "dataset: [unclosed")


def test_the_order_stream_section_names_its_fields_and_bad_ones_are_refused() -> None:
    orders = load_contracts_dir(CONTRACTS)["order_lines"]
    assert orders.stream is not None and orders.stream.prefix == "stream"
    assert [(c.name, c.type) for c in orders.event_columns] == [
        ("event_id", "string"), ("sent_at", "timestamp"),
    ]  # fmt: skip
    # Files lack the event fields: they are silver columns, never a header's required columns.
    assert "event_id" not in orders.source_columns and "event_id" in orders.silver_columns
    text = (CONTRACTS / "order_lines.yaml").read_text()
    data = yaml.safe_load(text)
    renamed = {**data, "stream": {**data["stream"], "fields": {"InvoiceNo": "invoice"}}}
    parsed = parse_contract("order_lines.yaml", yaml.safe_dump(renamed))
    assert parsed.stream is not None
    assert [parsed.stream.field_of(c) for c in ("InvoiceNo", "Country")] == ["invoice", "Country"]
    for stream, message in [
        ({"prefix": "../x", "event_id": "event_id", "sent_at": "sent_at"}, "must be a folder"),
        ({"prefix": "s", "event_id": "quantity", "sent_at": "sent_at"}, "not a silver column"),
        ({"prefix": "s", "event_id": "id", "sent_at": "id"}, "must be different"),
        ({"prefix": "s", "event_id": "id"}, "missing required field 'sent_at'"),
        ({"prefix": "s", "event_id": "id", "sent_at": "at", "fields": {"Qty": "q"}}, "'Qty'"),
        ({"prefix": "s", "event_id": "id", "sent_at": "at", "buffer": 5}, "unknown field"),
    ]:
        with pytest.raises(ContractError, match=message) as error:
            parse_contract("contracts/order_lines.yaml", yaml.safe_dump({**data, "stream": stream}))
        assert str(error.value).startswith("contracts/order_lines.yaml: stream")
