"""A file's field names read as the contract's columns, through the columns' aliases."""

from __future__ import annotations

from jobs.common.aliases import named_as_contract


def test_a_header_names_a_column_by_its_alias_unless_it_has_the_column_too() -> None:
    aliases = {"Invoice": "InvoiceNo", "Customer ID": "CustomerID"}
    assert named_as_contract(["invoice", "StockCode", "CUSTOMER ID"], aliases) == [
        "InvoiceNo", "StockCode", "CustomerID",
    ]  # fmt: skip
    assert named_as_contract(["InvoiceNo", "Invoice"], aliases) == ["InvoiceNo", "Invoice"]
