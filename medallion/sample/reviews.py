"""The reviews dataset: JSON Lines from two sources, with defects."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np

from medallion.sample.common import (
    BODIES,
    END,
    START,
    TITLES,
    IntArray,
    _day,
    _insert_lines,
    _money,
)
from medallion.sample.customers import _Customers
from medallion.sample.draws import _Orders
from medallion.sample.manifest import Plan, _Output
from medallion.sample.products import _Products


def _review_json(
    review_id: str, code: str, customer: int, rating: int, title: str, body: str, created: str
) -> str:
    return json.dumps(
        {
            "review_id": review_id,
            "stock_code": code,
            "customer_id": customer,
            "rating": rating,
            "title": title,
            "body": body,
            "created_at": created,
        },
        ensure_ascii=False,
    )


def _malformed_review(j: int, review_id: str, code: str, customer: int) -> str:
    """JSON a parser must reject (no single quotes: Spark accepts those)."""
    head = f'{{"review_id": "{review_id}", "stock_code": "{code}", "customer_id": {customer}'
    return [
        head + ', "rat',
        head + ' "rating": 5, "title": "Great"}',
        f'{{"review_id": "{review_id}", "stock_code": "{code}", "customer_id": , "rating": 4}}',
        f"review_id={review_id};stock_code={code};rating=5",
    ][j % 4]


def _review_sources(
    customers: _Customers, products: _Products, orders: _Orders, n: int, rng: np.random.Generator
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Product, customer, day and second of each review, in time order.

    A review follows a real purchase by 2-40 days, so reviewers bought what they review.
    """
    n_products = len(products.codes)
    line_customer = orders.inv_customer[orders.line_inv]
    bought = np.flatnonzero(
        (line_customer >= 0) & (orders.line_item < n_products) & (orders.line_qty > 0)
    )
    if len(bought):
        source = rng.choice(bought, n)
        product = orders.line_item[source]
        customer = line_customer[source]
        day = orders.inv_day[orders.line_inv[source]] + rng.integers(2, 40, n)
    else:  # too few lines to have a customer's purchase
        product = rng.integers(0, n_products, n)
        customer = rng.integers(0, len(customers.ids), n)
        day = rng.integers(0, (END - START).days, n)
    second = rng.integers(7 * 3600, 23 * 3600, n)
    order = np.lexsort((second, day))
    return product[order], customer[order], day[order], second[order]


def _render_reviews(
    customers: _Customers,
    products: _Products,
    orders: _Orders,
    plan: Plan,
    rng: np.random.Generator,
) -> _Output:
    n = plan.reviews
    product, customer, day, second = _review_sources(customers, products, orders, n, rng)
    latent = 4.1 + 0.6 * products.quality[product] + rng.normal(0.0, 1.0, n)
    rating = np.clip(np.round(latent), 1, 5).astype(np.int64)
    title_pick = rng.integers(0, 12, n)

    n_bad_rating = plan.count(n, 100)
    n_resent = plan.count(n, 100)
    picked = rng.choice(n, n_bad_rating + n_resent, replace=False)
    bad_rating = np.sort(picked[:n_bad_rating])
    resent = np.sort(picked[n_bad_rating:])
    rating[bad_rating] = np.array([0, 6, 7, 8, 9])[np.arange(n_bad_rating) % 5]

    lines = []
    for i in range(n):
        r, p = int(rating[i]), int(product[i])
        stars = min(max(r, 1), 5)
        titles = TITLES[stars]
        body = BODIES[stars].format(
            d=products.descriptions[p].lower(), p="£" + _money(int(products.list_cents[p]))
        )
        created = datetime.combine(_day(int(day[i])), datetime.min.time()) + timedelta(
            seconds=int(second[i])
        )
        lines.append(
            _review_json(
                f"R{i + 1:07d}",
                products.codes[p],
                int(customers.ids[customer[i]]),
                r,
                titles[title_pick[i] % len(titles)],
                body,
                created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
        )

    n_malformed = plan.count(n, 250)
    malformed = [
        _malformed_review(
            j, f"R{n + j + 1:07d}", products.codes[int(product[j])], int(customers.ids[customer[j]])
        )
        for j in range(n_malformed)
    ]
    rating_lines = [lines[i] for i in bad_rating.tolist()]
    resent_lines = [lines[i] for i in resent.tolist()]
    lines, malformed_at = _insert_lines(lines, malformed, rng)
    where = {line: p for p, line in enumerate(lines)}
    lines.extend(resent_lines)
    defect_lines = {
        "rating_out_of_range": sorted(where[line] + 1 for line in rating_lines),
        "malformed_json": [p + 1 for p in malformed_at],
        "resent_review": list(range(len(lines) - n_resent + 1, len(lines) + 1)),
    }
    injected = {
        "rating_out_of_range": n_bad_rating,
        "malformed_json": n_malformed,
        "resent_review": n_resent,
    }
    return _Output(lines, injected, defect_lines, n_resent, n_bad_rating + n_malformed)
