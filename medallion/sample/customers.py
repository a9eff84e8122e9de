"""The customers dataset: master data drawn before the orders, and its CSV with defects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medallion.sample.common import (
    COUNTRIES,
    EMAIL_DOMAINS,
    END,
    FIRST_NAMES,
    LAST_NAMES,
    START,
    FloatArray,
    IntArray,
    _ascii,
    _csv_field,
    _first_day,
    _insert_lines,
    _iso_day,
    _timestamp,
    _zipf_weights,
)
from medallion.sample.draws import _Orders
from medallion.sample.manifest import Plan, _Output


@dataclass
class _Customers:
    ids: IntArray
    country: IntArray
    weight: FloatArray
    first: IntArray
    last: IntArray


def _make_customers(n: int, rng: np.random.Generator) -> _Customers:
    span = max(3 * n, 6000)
    ids = np.sort(rng.choice(span, size=n, replace=False)).astype(np.int64) + 12346
    lines = np.array([c[1] for c in COUNTRIES], dtype=np.float64) ** 0.9
    country = rng.choice(len(COUNTRIES), size=n, p=lines / lines.sum())
    if n >= 10 * len(COUNTRIES):
        # Every country has a customer once there are enough of them, as in the UCI data.
        country[rng.choice(n, len(COUNTRIES), replace=False)] = np.arange(len(COUNTRIES))
    return _Customers(
        ids=ids,
        country=country,
        weight=_zipf_weights(n, 0.9, rng),
        first=rng.integers(0, len(FIRST_NAMES), n),
        last=rng.integers(0, len(LAST_NAMES), n),
    )


def _customer_row(
    cid: str, name: str, email: str, phone: str, country: str, signup: int, updated: tuple[int, int]
) -> str:
    return ",".join(
        [
            cid,
            _csv_field(name),
            email,
            phone,
            _csv_field(country),
            _iso_day(signup),
            _timestamp(*updated),
        ]
    )


def _render_customers(
    customers: _Customers, orders: _Orders, plan: Plan, rng: np.random.Generator
) -> _Output:
    n = len(customers.ids)
    last_day = (END - START).days
    ordered = orders.inv_customer >= 0
    first = _first_day(orders.inv_customer[ordered], orders.inv_day[ordered], n)
    never = first >= 10**6
    signup = np.where(never, rng.integers(-500, last_day + 1, n), first - rng.integers(0, 400, n))
    updated = signup + (rng.random(n) * (last_day + 1 - signup)).astype(np.int64)
    seconds = rng.integers(0, 86400, n)
    domain = rng.integers(0, len(EMAIL_DOMAINS), n)
    phone = rng.integers(1_000_000, 9_999_999, n)

    def row(i: int, email_domain: int, phone_no: int, when: tuple[int, int], cid: str) -> str:
        first_name, last_name = FIRST_NAMES[customers.first[i]], LAST_NAMES[customers.last[i]]
        local = f"{_ascii(first_name)}.{_ascii(last_name)}{customers.ids[i] % 1000}"
        country = COUNTRIES[customers.country[i]]
        return _customer_row(
            cid,
            f"{first_name} {last_name}",
            f"{local}@{EMAIL_DOMAINS[email_domain]}",
            f"+{country[2]} {phone_no}",
            country[0],
            int(signup[i]),
            when,
        )

    lines = [
        row(i, domain[i], phone[i], (int(updated[i]), int(seconds[i])), str(customers.ids[i]))
        for i in range(n)
    ]
    n_empty = plan.count(n, 500)
    empty = [
        row(i, domain[i], phone[i], (int(updated[i]), int(seconds[i])), "")
        for i in rng.choice(n, n_empty, replace=False).tolist()
    ]
    lines, empty_at = _insert_lines(lines, empty, rng)
    position = {ln.split(",", 1)[0]: p for p, ln in enumerate(lines) if not ln.startswith(",")}

    # Re-sent records arrive later in the file with a later UpdatedAt and new contact details.
    resent = np.sort(rng.choice(n, plan.count(n, 50), replace=False))
    for i in resent.tolist():
        later = (int(updated[i]) + int(rng.integers(1, 60)), int(rng.integers(0, 86400)))
        new_domain = (domain[i] + 1) % len(EMAIL_DOMAINS)
        lines.append(
            row(
                i, new_domain, int(rng.integers(1_000_000, 9_999_999)), later, str(customers.ids[i])
            )
        )
    older = sorted(position[str(customers.ids[i])] + 2 for i in resent.tolist())
    injected = {"resent_record": len(resent), "empty_customer_id": n_empty}
    defect_lines = {"resent_record": older, "empty_customer_id": [p + 2 for p in empty_at]}
    return _Output(lines, injected, defect_lines, len(resent), n_empty)
