"""The inventory dataset: weekly stock per warehouse, simulated from the orders, with defects."""

from __future__ import annotations

from datetime import date

import numpy as np

from medallion.sample.common import END, START, WAREHOUSES, FloatArray, IntArray, _iso_day
from medallion.sample.draws import _Orders
from medallion.sample.manifest import Plan, _Output
from medallion.sample.products import _Products


def _weekly_demand(orders: _Orders, n_products: int, first_monday: int, n_weeks: int) -> FloatArray:
    sale = (orders.line_item < n_products) & (orders.line_qty > 0)
    week = (orders.inv_day[orders.line_inv[sale]] - first_monday + 7) // 7
    week = np.clip(week, 0, n_weeks - 1)
    flat = np.bincount(
        orders.line_item[sale] * n_weeks + week,
        weights=orders.line_qty[sale].astype(np.float64),
        minlength=n_products * n_weeks,
    ).astype(np.float64)
    return flat.reshape(n_products, n_weeks)


def _simulate_stock(demand: FloatArray, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """A reorder-point policy per product and warehouse; orders arrive a week later."""
    pairs, weeks = demand.shape
    mean = demand.mean(axis=1) + 1.0
    level = np.round(mean * rng.uniform(1.0, 6.0, pairs)).astype(np.int64)
    reorder_at = mean * rng.uniform(0.3, 2.5, pairs)
    batch = np.round(mean * rng.uniform(2.0, 6.0, pairs) + 6).astype(np.int64)
    pending = np.zeros(pairs, dtype=np.int64)
    on_hand = np.empty((weeks, pairs), dtype=np.int64)
    on_order = np.empty((weeks, pairs), dtype=np.int64)
    for t in range(weeks):
        level = np.maximum(level + pending - np.round(demand[:, t]).astype(np.int64), 0)
        pending = np.where(level < reorder_at, batch, 0)
        on_hand[t], on_order[t] = level, pending
    return on_hand, on_order


def _render_inventory(
    products: _Products, orders: _Orders, plan: Plan, rng: np.random.Generator
) -> _Output:
    n = len(products.codes)
    first_monday = (date(2010, 12, 6) - START).days
    n_weeks = ((END - START).days - first_monday) // 7 + 1
    # Every product is stocked in London and Manchester; half of them in Amsterdam too.
    stocked = np.ones((n, len(WAREHOUSES)), dtype=bool)
    stocked[:, 2] = rng.random(n) < 0.5
    share = stocked * np.array([0.6, 0.3, 0.1])
    share /= share.sum(axis=1, keepdims=True)
    by_code = sorted(range(n), key=lambda i: products.codes[i])
    pair_product, pair_wh = np.nonzero(stocked[by_code])
    pair_product = np.array(by_code)[pair_product]
    demand = _weekly_demand(orders, n, first_monday, n_weeks)
    on_hand, on_order = _simulate_stock(
        demand[pair_product] * share[pair_product, pair_wh, None], rng
    )
    labels = [
        f"{products.codes[p]},{WAREHOUSES[w]}"
        for p, w in zip(pair_product.tolist(), pair_wh.tolist(), strict=True)
    ]
    dates = [_iso_day(first_monday + 7 * t) for t in range(n_weeks)]
    lines = [
        f"{d},{label},{h},{o}"
        for t, d in enumerate(dates)
        for label, h, o in zip(labels, on_hand[t].tolist(), on_order[t].tolist(), strict=True)
    ]
    n_bad = plan.count(len(lines), 10_000)
    bad = np.sort(rng.choice(len(lines), n_bad, replace=False))
    for j, i in enumerate(bad.tolist()):
        head, value, tail = lines[i].rsplit(",", 2)
        lines[i] = f"{head},{['n/a', f'{value}a', '#REF!', 'unknown'][j % 4]},{tail}"
    return _Output(
        lines, {"unparseable_on_hand": n_bad}, {"unparseable_on_hand": (bad + 2).tolist()}, 0, n_bad
    )
