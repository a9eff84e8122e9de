"""The products dataset: the catalogue drawn before the orders, and its CSV with defects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medallion.sample.common import (
    CATEGORIES,
    CATEGORY_WEIGHTS,
    END,
    START,
    STYLES,
    SUFFIXES,
    FloatArray,
    IntArray,
    _csv_field,
    _first_day,
    _iso_day,
    _money,
    _timestamp,
    _zipf_weights,
)
from medallion.sample.draws import _Orders
from medallion.sample.manifest import Plan, _Output


@dataclass
class _Products:
    codes: list[str]
    descriptions: list[str]
    category: IntArray
    list_cents: IntArray
    cost_cents: IntArray
    weight: FloatArray
    quality: FloatArray
    unknown_codes: list[str]
    unknown_descriptions: list[str]


def _descriptions(n: int, category: IntArray, rng: np.random.Generator) -> list[str]:
    names = list(CATEGORIES)
    styles = rng.integers(0, len(STYLES), n)
    nouns = rng.integers(0, 1000, n)
    suffixes = rng.integers(0, len(SUFFIXES), n)
    out = []
    for c, s, k, x in zip(
        category.tolist(), styles.tolist(), nouns.tolist(), suffixes.tolist(), strict=True
    ):
        nouns_of = CATEGORIES[names[c]]
        out.append(f"{STYLES[s]} {nouns_of[k % len(nouns_of)]}{SUFFIXES[x]}")
    return out


def _stock_codes(n: int, rng: np.random.Generator) -> list[str]:
    """Distinct UCI-style codes: five digits, some with a variant letter (85123A)."""
    numbers = rng.choice(np.arange(10002, 99999), size=n, replace=False)
    letters = rng.integers(0, 12, n)
    variant = rng.random(n) < 0.2
    return [
        f"{num}{'ABCDEFGHJKLM'[letter]}" if v else str(num)
        for num, letter, v in zip(numbers.tolist(), letters.tolist(), variant.tolist(), strict=True)
    ]


def _make_products(n: int, n_unknown: int, rng: np.random.Generator) -> _Products:
    codes = _stock_codes(n + n_unknown, rng)
    category = rng.choice(
        len(CATEGORIES), size=n + n_unknown, p=np.array(CATEGORY_WEIGHTS) / sum(CATEGORY_WEIGHTS)
    )
    descriptions = _descriptions(n + n_unknown, category, rng)
    price = np.exp(rng.normal(np.log(2.5), 0.8, n)).clip(0.19, 49.95)
    list_cents = np.maximum(
        np.round(price * 20).astype(np.int64) * 5 - rng.choice([0, 0, 5], n), 10
    )
    cost_cents = np.round(list_cents * rng.uniform(0.35, 0.65, n)).astype(np.int64)
    return _Products(
        codes=codes[:n],
        descriptions=descriptions[:n],
        category=category[:n],
        list_cents=list_cents,
        cost_cents=cost_cents,
        weight=_zipf_weights(n, 0.75, rng),
        quality=rng.normal(0.0, 1.0, n),
        unknown_codes=codes[n:],
        unknown_descriptions=descriptions[n:],
    )


def _render_products(
    products: _Products, orders: _Orders, plan: Plan, rng: np.random.Generator
) -> _Output:
    n = len(products.codes)
    last_day = (END - START).days
    sold = orders.line_item < n
    first = _first_day(orders.line_item[sold], orders.inv_day[orders.line_inv[sold]], n)
    never = first >= 10**6
    introduced = np.where(
        never, rng.integers(-700, last_day - 8, n), first - rng.integers(0, 700, n)
    )
    updated = introduced + (rng.random(n) * (last_day + 1 - introduced)).astype(np.int64)
    seconds = rng.integers(0, 86400, n)
    names = list(CATEGORIES)

    def row(i: int, cost: int, price: int, when: tuple[int, int]) -> str:
        return ",".join(
            [
                products.codes[i],
                _csv_field(products.descriptions[i]),
                names[products.category[i]],
                _money(cost),
                _money(price),
                _iso_day(int(introduced[i])),
                _timestamp(*when),
            ]
        )

    lines = [
        row(
            i,
            int(products.cost_cents[i]),
            int(products.list_cents[i]),
            (int(updated[i]), int(seconds[i])),
        )
        for i in range(n)
    ]
    # A price change re-sends the record with a later UpdatedAt.
    resent = np.sort(rng.choice(n, plan.count(n, 50), replace=False))
    for i in resent.tolist():
        price = max(10, round(float(products.list_cents[i]) * rng.uniform(0.9, 1.15)))
        later = (int(updated[i]) + int(rng.integers(1, 90)), int(rng.integers(0, 86400)))
        lines.append(row(i, int(products.cost_cents[i]), price, later))
    injected = {"resent_record": len(resent)}
    return _Output(lines, injected, {"resent_record": (resent + 2).tolist()}, len(resent), 0)
