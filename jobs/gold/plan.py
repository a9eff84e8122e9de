"""Which days and months each gold table recomputes, from the silver partitions that changed."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from jobs.gold.changes import SilverChanges, leading_days, trailing_days
from jobs.gold.transforms import VELOCITY_WINDOW_DAYS


def month_of(day: date) -> str:
    """The ``year_month`` partition value of a day: ``2011-12``."""
    return day.strftime("%Y-%m")


def month_start(key: str) -> date:
    year, month = key.split("-")
    return date(int(year), int(month), 1)


def days_of_months(months: set[str]) -> set[date]:
    """Every day of the given ``year_month`` months."""
    days: set[date] = set()
    for key in months:
        first = month_start(key)
        last = calendar.monthrange(first.year, first.month)[1]
        days.update(date(first.year, first.month, d) for d in range(1, last + 1))
    return days


@dataclass(frozen=True)
class Plan:
    """What an incremental run recomputes.

    sales_days: the order-line days silver rewrote: sales_daily's rows and the customer
    activity of those days. line_months: their months, whose product totals are recomputed.
    snapshot_days: the inventory_health days to recompute: the snapshot days silver rewrote and
    every day whose trailing velocity window holds a rewritten sales day. review_months: the
    months of rewritten reviews. product_codes_changed: whether silver rewrote any product.
    """

    sales_days: frozenset[date]
    line_months: frozenset[str]
    snapshot_days: frozenset[date]
    inventory_days: frozenset[date]
    review_months: frozenset[str]
    product_folders: tuple[str, ...]

    @property
    def velocity_days(self) -> set[date]:
        """The sales days the recomputed snapshots' velocity windows read."""
        return leading_days(set(self.snapshot_days), VELOCITY_WINDOW_DAYS)


def plan_run(changes: SilverChanges) -> Plan:
    """The days and months an incremental run recomputes (see :class:`Plan`)."""
    sales_days = changes.days("order_lines")
    inventory_days = changes.days("inventory")
    affected = inventory_days | trailing_days(sales_days, VELOCITY_WINDOW_DAYS)
    # Only days with snapshots have rows; those whose partition went away are in inventory_days.
    snapshots = {
        d
        for p in changes.current.get("inventory", {}).values()
        for d in p.days or ()
        if d in affected
    }
    return Plan(
        sales_days=frozenset(sales_days),
        line_months=frozenset(month_of(d) for d in sales_days),
        snapshot_days=frozenset(snapshots | inventory_days),
        inventory_days=frozenset(inventory_days),
        review_months=frozenset(month_of(d) for d in changes.days("reviews")),
        product_folders=tuple(changes.changed.get("products", [])),
    )
