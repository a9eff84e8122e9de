"""The order_lines dataset: invoices and their lines (UCI Online Retail layout), with defects."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from medallion.sample.common import (
    CANCEL_INVOICE_SHARE,
    CANCEL_QTY,
    CANCEL_QTY_WEIGHTS,
    COUNTRIES,
    FIRST_INVOICE,
    GUEST_LINE_SHARE,
    HOUR_WEIGHTS,
    KEPT_ORDER_DEFECTS,
    NON_PRODUCTS,
    NP_CODES,
    QTY_VALUES,
    QTY_WEIGHTS,
    UK,
    FloatArray,
    IntArray,
    _csv_field,
    _day,
    _day_weights,
    _later_occurrence,
    _money,
)
from medallion.sample.customers import _Customers
from medallion.sample.draws import _Orders
from medallion.sample.manifest import _Output
from medallion.sample.products import _Products


def _invoice_sizes(
    n_lines: int, max_size: int, rng: np.random.Generator
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Lines per invoice (sales ~18, cancellations 1-3), summing exactly to ``n_lines``."""
    estimate = n_lines // 4 + 20
    while True:
        cancel = rng.random(estimate) < CANCEL_INVOICE_SHARE
        sale = 1 + rng.negative_binomial(1.2, 1.2 / (1.2 + 17.0), estimate)
        sizes = np.where(cancel, rng.geometric(0.6, estimate), sale).clip(1, max_size)
        total = np.cumsum(sizes)
        if total[-1] >= n_lines:
            break
        estimate *= 2
    last = int(np.searchsorted(total, n_lines))
    sizes = sizes[: last + 1].astype(np.int64)
    sizes[-1] -= int(total[last]) - n_lines
    return sizes, cancel[: last + 1]


def _invoice_customers(
    sizes: IntArray, cancel: npt.NDArray[np.bool_], customers: _Customers, rng: np.random.Generator
) -> IntArray:
    """A customer per invoice; whole sale invoices are guests until a quarter of lines are."""
    n_inv = len(sizes)
    customer = rng.choice(len(customers.ids), size=n_inv, p=customers.weight)
    sales = rng.permutation(np.flatnonzero(~cancel))
    target = GUEST_LINE_SHARE * sizes.sum()
    n_guest = int(np.searchsorted(np.cumsum(sizes[sales]), target)) + 1
    customer[sales[:n_guest]] = -1
    known = np.flatnonzero(customer >= 0)
    if len(known) >= len(customers.ids):
        # Every customer orders at least once, at a random point in the year.
        customer[rng.choice(known, size=len(customers.ids), replace=False)] = np.arange(
            len(customers.ids)
        )
    return customer


def _non_product_codes(
    cancel: npt.NDArray[np.bool_], customer: IntArray, country: IntArray, rng: np.random.Generator
) -> IntArray:
    """Which invoices carry a postage, fee or adjustment line (index into NP_CODES, or -1)."""
    n = len(cancel)
    code = np.full(n, -1)
    draw = rng.random((n, 4))
    idx = {c: i for i, c in enumerate(NP_CODES)}
    guest = customer < 0
    rules = (
        (~cancel & ~guest & (country != UK) & (draw[:, 0] < 0.5), "POST"),
        (~cancel & guest & (draw[:, 0] < 0.2), "DOT"),
        (~cancel & ~guest & (country == UK) & (draw[:, 0] < 0.02), "C2"),
        (~cancel & (draw[:, 1] < 0.004), "M"),
        (~cancel & (draw[:, 2] < 0.002), "BANK CHARGES"),
        (cancel & (draw[:, 0] < 0.06), "D"),
        (cancel & (draw[:, 1] < 0.04), "M"),
        (cancel & (draw[:, 2] < 0.01), "AMAZONFEE"),
        (cancel & (draw[:, 3] < 0.01), "CRUK"),
    )
    for mask, name in rules:
        code[mask & (code < 0)] = idx[name]
    return code


def _distinct_products(
    line_inv: IntArray, need: IntArray, weight: FloatArray, rng: np.random.Generator
) -> IntArray:
    """Popularity-weighted products, never the same one twice on an invoice."""
    n_products = len(weight)
    chosen = rng.choice(n_products, size=len(need), p=weight)
    for attempt in range(200):
        repeated = _later_occurrence(line_inv[need], chosen, n_products)
        if not repeated.any():
            return chosen
        k = int(repeated.sum())
        # After a few weighted redraws, draw uniformly so big invoices on small catalogues end.
        chosen[repeated] = (
            rng.choice(n_products, size=k, p=weight)
            if attempt < 3
            else rng.integers(0, n_products, k)
        )
    raise RuntimeError("could not draw distinct products per invoice")


def _make_orders(
    n_lines: int, customers: _Customers, products: _Products, rng: np.random.Generator
) -> _Orders:
    n_products = len(products.codes)
    sizes, cancel = _invoice_sizes(n_lines, max(1, min(n_products // 2, 250)), rng)
    n_inv = len(sizes)
    day_p = _day_weights()
    day = rng.choice(len(day_p), size=n_inv, p=day_p)
    hours = np.array(list(HOUR_WEIGHTS))
    hour_p = np.array(list(HOUR_WEIGHTS.values()), dtype=np.float64)
    minute = rng.choice(hours, size=n_inv, p=hour_p / hour_p.sum()) * 60 + rng.integers(
        0, 60, n_inv
    )
    order = np.lexsort((minute, day))
    day, minute = day[order], minute[order]
    customer = _invoice_customers(sizes, cancel, customers, rng)
    guest_p = np.array([c[1] for c in COUNTRIES], dtype=np.float64)
    guest_country = rng.choice(len(COUNTRIES), size=n_inv, p=guest_p / guest_p.sum())
    country = np.where(customer >= 0, customers.country[np.maximum(customer, 0)], guest_country)
    np_code = _non_product_codes(cancel, customer, country, rng)

    line_inv = np.repeat(np.arange(n_inv), sizes)
    first_line = np.zeros(len(line_inv), dtype=bool)
    first_line[np.cumsum(sizes) - sizes] = True
    is_np = first_line & (np_code[line_inv] >= 0)
    item = np.empty(len(line_inv), dtype=np.int64)
    item[is_np] = n_products + np_code[line_inv[is_np]]
    need = np.flatnonzero(~is_np)
    item[need] = _distinct_products(line_inv, need, products.weight, rng)

    qty, cents = _quantities_and_prices(line_inv, item, cancel, customer, customers, products, rng)
    return _Orders(day, minute, cancel, customer, country, line_inv, item, qty, cents)


def _quantities_and_prices(
    line_inv: IntArray,
    item: IntArray,
    cancel: npt.NDArray[np.bool_],
    customer: IntArray,
    customers: _Customers,
    products: _Products,
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    n = len(line_inv)
    n_products = len(products.codes)
    is_product = item < n_products
    line_cancel = cancel[line_inv]
    qty = rng.choice(QTY_VALUES, size=n, p=QTY_WEIGHTS / QTY_WEIGHTS.sum())
    # The ten biggest customers are wholesalers buying in bulk.
    big = np.argsort(-customers.weight)[:10]
    wholesale = np.isin(customer[line_inv], big)
    qty = np.where(wholesale, qty * rng.integers(2, 5, n), qty)
    qty = np.where(is_product, qty, np.where(rng.random(n) < 0.9, 1, rng.integers(2, 4, n)))
    cancel_qty = rng.choice(CANCEL_QTY, size=n, p=CANCEL_QTY_WEIGHTS / CANCEL_QTY_WEIGHTS.sum())
    qty = np.where(line_cancel, -np.where(is_product, cancel_qty, 1), qty)

    cents = np.zeros(n, dtype=np.int64)
    listed = products.list_cents[np.where(is_product, item, 0)]
    bulk = np.round(listed * 0.85).astype(np.int64)
    cents[is_product] = np.where(qty[is_product] >= 24, bulk[is_product], listed[is_product])
    np_item = item - n_products
    for i, code in enumerate(NP_CODES):
        mask = np_item == i
        low, high = NON_PRODUCTS[code][1:]
        cents[mask] = rng.integers(low, high + 1, int(mask.sum()))
    # A few free lines, as in the UCI data (promotions); zero is a valid price.
    free = is_product & ~line_cancel & (rng.random(n) < 0.0005)
    cents[free] = 0
    return qty.astype(np.int64), cents


def _invoice_strings(
    orders: _Orders, customers: _Customers
) -> tuple[list[str], list[str], list[str], list[str]]:
    n_inv = len(orders.inv_day)
    numbers = FIRST_INVOICE + np.arange(n_inv)
    if numbers[-1] > 999_999:
        numbers = 1_000_000 - n_inv + np.arange(n_inv)
    inv = [
        f"C{n}" if c else str(n)
        for n, c in zip(numbers.tolist(), orders.inv_cancel.tolist(), strict=True)
    ]
    day_text = {
        d: f"{_day(d).month}/{_day(d).day}/{_day(d).year}"
        for d in np.unique(orders.inv_day).tolist()
    }
    dates = [
        f"{day_text[d]} {m // 60}:{m % 60:02d}"
        for d, m in zip(orders.inv_day.tolist(), orders.inv_minute.tolist(), strict=True)
    ]
    ids = [str(customers.ids[c]) if c >= 0 else "" for c in orders.inv_customer.tolist()]
    country = [COUNTRIES[c][0] for c in orders.inv_country.tolist()]
    return inv, dates, ids, country


def _order_fields(
    i: int,
    orders: _Orders,
    strings: tuple[list[str], ...],
    codes: list[str],
    descriptions: list[str],
) -> list[str]:
    inv, dates, ids, country = strings
    k = int(orders.line_inv[i])
    item = int(orders.line_item[i])
    return [
        inv[k],
        codes[item],
        descriptions[item],
        str(orders.line_qty[i]),
        dates[k],
        _money(int(orders.line_cents[i])),
        ids[k],
        country[k],
    ]


def _pick_order_defects(
    orders: _Orders, counts: dict[str, int], n_products: int, rng: np.random.Generator
) -> dict[str, IntArray]:
    """Distinct clean sale lines of real products with a price: one defect (or copy) each."""
    eligible = np.flatnonzero(
        ~orders.inv_cancel[orders.line_inv]
        & (orders.line_item < n_products)
        & (orders.line_cents > 0)
    )
    total = sum(counts.values())
    if total > len(eligible):
        raise ValueError("too few order lines to inject the requested defects")
    picked = rng.choice(eligible, size=total, replace=False)
    out, start = {}, 0
    for name, k in counts.items():
        out[name] = np.sort(picked[start : start + k])
        start += k
    return out


def _mutate(name: str, j: int, fields: list[str], unknown: tuple[str, str]) -> list[str]:
    """Apply one defect to a clean line's fields; ``j`` picks a variant."""
    qty, price = fields[3], fields[5]
    if name == "unparseable_number":
        col, value = [(3, f"{qty}x"), (5, "abc"), (3, "N/A"), (5, f"{price}.1")][j % 4]
        fields[col] = value
    elif name == "unparseable_date":
        month, day_year = fields[4].split("/", 1)
        day_part, time_part = day_year.split(" ")
        hour, minute = time_part.split(":")
        fields[4] = [
            f"13/45/{day_part.split('/')[1]} 25:61",
            f"{month}/{day_part} 25:{minute}",
            f"2/30/2011 {hour}:{minute}",
            f"13/{day_part} {time_part}",
        ][j % 4]
    elif name == "too_many_fields":
        # An unquoted comma in the description, as a broken export writes it.
        fields.insert(3, " ASSORTED COLOURS")
    elif name == "too_few_fields":
        fields = fields[:5]
    elif name == "negative_unit_price":
        fields[5] = f"-{price}"
    elif name == "unknown_product":
        fields[1], fields[2] = unknown
    return fields


def _order_line_text(
    orders: _Orders, strings: tuple[list[str], ...], code_desc: list[str]
) -> list[str]:
    """Every clean line as CSV text; per-invoice and per-product parts are formatted once."""
    inv, dates, ids, country = strings
    tail = [f"{i},{c}" for i, c in zip(ids, country, strict=True)]
    unique_cents, cents_at = np.unique(orders.line_cents, return_inverse=True)
    price_text = np.array([_money(c) for c in unique_cents.tolist()], dtype=object)[cents_at]
    return [
        f"{inv[k]},{cd},{q},{dates[k]},{p},{tail[k]}"
        for k, cd, q, p in zip(
            orders.line_inv.tolist(),
            np.array(code_desc, dtype=object)[orders.line_item].tolist(),
            orders.line_qty.tolist(),
            price_text.tolist(),
            strict=True,
        )
    ]


def _insert_copies(
    lines: list[str], sources: IntArray, rng: np.random.Generator
) -> tuple[list[str], IntArray, IntArray]:
    """Repeat ``sources`` verbatim 1-20 lines after the original, as a retried upload would.

    Returns the lines, each original line's new 0-based position, and the copies' positions.
    """
    at = np.minimum(sources + 1 + rng.integers(0, 20, len(sources)), len(lines))
    base = np.arange(len(lines))
    order = np.insert(base, at, sources)
    is_copy = np.insert(np.zeros(len(base), dtype=bool), at, True)
    position = np.empty(len(base), dtype=np.int64)
    position[order[~is_copy]] = np.flatnonzero(~is_copy)
    return [lines[i] for i in order.tolist()], position, np.flatnonzero(is_copy)


def _render_order_lines(
    orders: _Orders,
    customers: _Customers,
    products: _Products,
    counts: dict[str, int],
    rng: np.random.Generator,
) -> _Output:
    strings = _invoice_strings(orders, customers)
    codes = products.codes + list(NP_CODES)
    descriptions = products.descriptions + [NON_PRODUCTS[c][0] for c in NP_CODES]
    code_desc = [
        f"{_csv_field(c)},{_csv_field(d)}" for c, d in zip(codes, descriptions, strict=True)
    ]
    lines = _order_line_text(orders, strings, code_desc)
    targets = _pick_order_defects(orders, counts, len(products.codes), rng)
    for name, where in targets.items():
        if name == "exact_duplicate":
            continue
        for j, i in enumerate(where.tolist()):
            unknown = (products.unknown_codes[j], products.unknown_descriptions[j])
            fields = _order_fields(i, orders, strings, codes, descriptions)
            lines[i] = ",".join(_csv_field(f) for f in _mutate(name, j, fields, unknown))
    final, position, copies = _insert_copies(lines, targets["exact_duplicate"], rng)

    # Line numbers count the header as line 1, as bronze's _ingest_line does.
    defect_lines = {name: sorted((position[w] + 2).tolist()) for name, w in targets.items()}
    defect_lines["exact_duplicate"] = (copies + 2).tolist()
    quarantined = sum(v for k, v in counts.items() if k not in KEPT_ORDER_DEFECTS)
    return _Output(
        final,
        dict(counts),
        defect_lines,
        counts["exact_duplicate"],
        quarantined,
        counts["unknown_product"],
    )
