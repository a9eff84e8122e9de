"""Gold's marts: the silver datasets each needs, and its grain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import DataFrame

Inputs = Mapping[str, DataFrame | None]


@dataclass(frozen=True)
class Mart:
    """A gold mart: the silver datasets it cannot do without, and its grain."""

    name: str
    needs: tuple[str, ...]
    grain: tuple[str, ...]


MARTS: tuple[Mart, ...] = (
    Mart("sales_daily", ("order_lines",), ("sales_date", "country")),
    Mart("product_monthly", ("order_lines",), ("stock_code", "month")),
    Mart(
        "inventory_health",
        ("inventory", "order_lines"),
        ("stock_code", "warehouse", "snapshot_date"),
    ),
    Mart("customer_rfm", ("order_lines",), ("customer_id",)),
    Mart("customer_lifetime", ("order_lines",), ("customer_id",)),
    Mart("cohort_retention", ("order_lines",), ("cohort_month", "months_since")),
)


def empty_reasons(inputs: Inputs, has_sales: bool) -> dict[str, str]:
    """Why each mart that cannot hold rows is empty: a silver input missing or without sales.

    Parameters
    ----------
    inputs : Mapping[str, DataFrame | None]
        Silver tables by dataset; None (or no key) for an absent dataset.
    has_sales : bool
        Whether order_lines has at least one row.

    Returns
    -------
    dict
        ``{mart: reason}`` for the marts that are written empty.
    """
    reasons: dict[str, str] = {}
    for mart in MARTS:
        missing = [d for d in mart.needs if inputs.get(d) is None]
        if missing:
            reasons[mart.name] = "needs " + " and ".join(missing)
        elif not has_sales:
            reasons[mart.name] = "needs order_lines with at least one row"
    return reasons
