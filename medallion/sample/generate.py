"""Sample landing data for the five source datasets, with defects injected at known counts."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ProgressCallback = Callable[[str, float], None]

MANIFEST_NAME = "_generator_manifest.json"
DATASETS = ("order_lines", "customers", "products", "inventory", "reviews")
FILES = {
    "order_lines": "order_lines/order_lines.csv",
    "customers": "customers/customers.csv",
    "products": "products/products.csv",
    "inventory": "inventory/inventory.csv",
    "reviews": "reviews/reviews.jsonl",
}
HEADERS = {
    "order_lines": (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
    ),
    "customers": "CustomerID,Name,Email,Phone,Country,SignupDate,UpdatedAt",
    "products": "StockCode,Description,Category,UnitCost,ListPrice,IntroducedOn,UpdatedAt",
    "inventory": "SnapshotDate,StockCode,Warehouse,OnHand,OnOrder",
}
# Below this many order lines the data is clean: too few lines to hide defects among.
MIN_ORDER_LINES_FOR_DEFECTS = 200
# Invoice numbers are 6 digits (contract regex ^C?[0-9]{6}$); the UCI data starts here.
FIRST_INVOICE = 536365
MAX_ORDER_LINES = 10_000_000

START = date(2010, 12, 1)
END = date(2011, 12, 9)
EPOCH = START  # day numbers below count from the first day of trading
GUEST_LINE_SHARE = 0.25
CANCEL_INVOICE_SHARE = 0.12

# Reference tables, kept one row per line where that reads better than one value per line.
# fmt: off
# (country, order lines in the UCI data, dialling code): the weights give UK dominance and a tail.
COUNTRIES: tuple[tuple[str, int, str], ...] = (
    ("United Kingdom", 495478, "44"), ("Germany", 9495, "49"), ("France", 8557, "33"),
    ("EIRE", 8196, "353"), ("Spain", 2533, "34"), ("Netherlands", 2371, "31"),
    ("Belgium", 2069, "32"), ("Switzerland", 2002, "41"), ("Portugal", 1519, "351"),
    ("Australia", 1259, "61"), ("Norway", 1086, "47"), ("Italy", 803, "39"),
    ("Channel Islands", 758, "44"), ("Finland", 695, "358"), ("Cyprus", 622, "357"),
    ("Sweden", 462, "46"), ("Unspecified", 446, "44"), ("Austria", 401, "43"),
    ("Denmark", 389, "45"), ("Japan", 358, "81"), ("Poland", 341, "48"),
    ("Israel", 297, "972"), ("USA", 291, "1"), ("Hong Kong", 288, "852"),
    ("Singapore", 229, "65"), ("Iceland", 182, "354"), ("Canada", 151, "1"),
    ("Greece", 146, "30"), ("Malta", 127, "356"), ("United Arab Emirates", 68, "971"),
    ("European Community", 61, "32"), ("RSA", 58, "27"), ("Lebanon", 45, "961"),
    ("Lithuania", 35, "370"), ("Brazil", 32, "55"), ("Czech Republic", 30, "420"),
    ("Bahrain", 19, "973"), ("Saudi Arabia", 10, "966"),
)
UK = 0
# Order lines per month in the UCI data: the shape of the year, with the November peak.
MONTH_LINES = {
    (2010, 12): 42481, (2011, 1): 35147, (2011, 2): 27707, (2011, 3): 36748,
    (2011, 4): 29916, (2011, 5): 37030, (2011, 6): 36874, (2011, 7): 39518,
    (2011, 8): 35284, (2011, 9): 50226, (2011, 10): 60742, (2011, 11): 84711,
    (2011, 12): 25525,
}
WEEKDAY_FACTOR = (1.0, 1.05, 1.05, 1.2, 0.85, 0.0, 0.7)  # the shop never trades on Saturdays
CLOSED = (date(2010, 12, 23), date(2011, 1, 3))  # the Christmas break, inclusive
HOUR_WEIGHTS = {7: 1, 8: 3, 9: 6, 10: 9, 11: 11, 12: 12, 13: 12, 14: 10, 15: 8, 16: 6, 17: 4,
                18: 2, 19: 1, 20: 0.5}

CATEGORIES: dict[str, tuple[str, ...]] = {
    "Home": ("CUSHION COVER", "PHOTO FRAME", "DOORMAT", "WALL CLOCK", "COAT HANGER",
             "STORAGE BOX", "MIRROR", "DOORSTOP"),
    "Kitchen": ("TEA CUP AND SAUCER", "CAKE TIN", "MUG", "APRON", "TEA TOWEL", "JAM JAR",
                "LUNCH BOX", "CAKESTAND", "CHOPPING BOARD"),
    "Garden": ("WATERING CAN", "PLANT POT", "BIRD HOUSE", "GARDEN SIGN", "HERB MARKER",
               "PEG BAG"),
    "Stationery": ("NOTEBOOK", "PENCILS", "GIFT TAG", "GREETING CARD", "WRAPPING PAPER",
                   "STICKER SHEET", "ERASER"),
    "Toys": ("SPACEBOY", "DOLLY GIRL", "SKIPPING ROPE", "JIGSAW", "PLAYHOUSE", "SPINNING TOP"),
    "Gifts": ("TRINKET BOX", "KEYRING", "MONEY BANK", "PURSE", "HAND WARMER"),
    "Lighting": ("T-LIGHT HOLDER", "LANTERN", "NIGHT LIGHT", "STRING LIGHTS", "CANDLE", "LAMP"),
    "Bags": ("JUMBO BAG", "LUNCH BAG", "SHOPPER", "CHARLOTTE BAG", "TOTE BAG"),
    "Party": ("PAPER CHAIN KIT", "BUNTING", "PARTY CUPS", "NAPKINS", "PAPER PLATES", "BALLOONS"),
    "Seasonal": ("CHRISTMAS TREE DECORATION", "ADVENT CALENDAR", "EASTER HEN", "HANGING STAR",
                 "SNOWFLAKE ORNAMENT", "HEART WREATH"),
}
CATEGORY_WEIGHTS = (14, 14, 8, 10, 9, 11, 10, 9, 7, 8)
STYLES = ("WHITE", "RED", "PINK", "BLUE", "GREEN", "VINTAGE", "REGENCY", "RETROSPOT", "SKULL",
          "POLKADOT", "HANGING HEART", "PAISLEY", "WOODLAND", "BIRD", "ROSE", "FAIRY CAKE",
          "LOVE", "ANTIQUE SILVER", "ZINC", "GLASS", "ENAMEL", "FRENCH", "SCANDINAVIAN",
          "ALPHABET", "VINTAGE RED", "PANTRY", "STRAWBERRY", "UNION JACK")
# Some descriptions carry a comma, so the CSV needs RFC-4180 quoting, as the UCI export does.
SUFFIXES = ("", "", "", "", "", "", " SET OF 3", " SET OF 4", ", SMALL", ", LARGE",
            ", SET OF 2", " ASSORTED")

# Invoiced codes that are not products (the contract's is_product list): description, and the
# unit price range in pence.
NON_PRODUCTS: dict[str, tuple[str, int, int]] = {
    "POST": ("POSTAGE", 1800, 4000),
    "DOT": ("DOTCOM POSTAGE", 1000, 60000),
    "M": ("Manual", 50, 30000),
    "C2": ("CARRIAGE", 5000, 5000),
    "BANK CHARGES": ("Bank Charges", 1500, 1500),
    "D": ("Discount", 500, 20000),
    "AMAZONFEE": ("AMAZON FEE", 50000, 500000),
    "CRUK": ("CRUK Commission", 1000, 50000),
}
NP_CODES = tuple(NON_PRODUCTS)
# Order-line defects silver keeps (flagged) or removes as duplicates; the others are quarantined.
KEPT_ORDER_DEFECTS = ("exact_duplicate", "unknown_product")

QTY_VALUES = np.array([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 25, 36, 48, 72, 96, 144])
QTY_WEIGHTS = np.array([18, 14, 8, 8, 3, 10, 4, 4, 14, 2, 2, 6, 1, 1.5, 1.5, 0.6, 0.5, 0.3])
CANCEL_QTY = np.array([1, 2, 3, 4, 6, 12, 24])
CANCEL_QTY_WEIGHTS = np.array([40, 15, 8, 8, 10, 14, 5])

FIRST_NAMES = ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Noah", "Emily", "Jack",
               "Sophie", "Leo", "Grace", "Oscar", "Lily", "Charlie", "Freya", "Jacob", "Mia",
               "Thomas", "Ella", "James", "Chloe", "William", "Evie", "Henry", "Ruby", "Lucas",
               "Zoë", "José", "Chloé", "Søren", "Ana", "Lukas", "Marie", "Pierre", "Giulia",
               "Sean", "Aoife", "Hiroshi", "Sara", "Mateus", "Eva", "Björn", "Noémie")
LAST_NAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
              "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts",
              "Green", "Hall", "Wood", "Jackson", "Clarke", "O'Brien", "Murphy", "Müller",
              "Schmidt", "Dubois", "Martin", "García", "Rossi", "Jensen", "Nielsen", "Silva",
              "Kowalski", "Novák", "Tanaka", "Cohen", "Andersson", "Papadopoulos", "Ferreira",
              "Van Dijk")
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
WAREHOUSES = ("LON", "MAN", "AMS")

TITLES = {
    1: ("Very disappointed", "Broke within a week", "Not as pictured"),
    2: ("Not great", "Smaller than expected", "Poor quality for the price"),
    3: ("It's OK", "Does the job", "Average"),
    4: ("Nice item", "Good value", "Pretty, as described"),
    5: ("Love it!", "Perfect gift", "Absolutely gorgeous", "Five stars"),
}
BODIES = {
    1: "The {d} arrived damaged and the colour was nothing like the photo.",
    2: "The {d} looks cheap up close; I expected more for {p}.",
    3: "The {d} is fine, nothing special. Delivery took a while.",
    4: "Bought the {d} for my shop, customers like it. Good value at {p}.",
    5: 'The {d} is "just lovely" - bought three more as gifts, and they sold out fast!',
}
# fmt: on


# ---------------------------------------------------------------------------------------------
# The manifest


@dataclass(frozen=True)
class FileInfo:
    """One written file: its path under the output directory, data lines and size."""

    path: str
    lines: int
    bytes: int


@dataclass(frozen=True)
class Expected:
    """What the silver job should report for a dataset: rows_in = silver + quarantined + dups."""

    rows_in: int
    rows_silver: int
    duplicates: int
    quarantined: int
    flagged: int
    flagged_unknown_product: int


@dataclass(frozen=True)
class Manifest:
    """What was generated and which defects were injected, at exact counts.

    ``defect_lines`` gives, per dataset and defect, the 1-based line numbers in the file (the CSV
    header is line 1) of the rows silver removes, quarantines or flags; for a re-sent record that
    is the older, superseded line.
    """

    seed: int
    order_lines_requested: int
    files: dict[str, FileInfo]
    expected: dict[str, Expected]
    injected: dict[str, dict[str, int]]
    defect_lines: dict[str, dict[str, list[int]]]

    def to_dict(self) -> dict[str, Any]:
        """The manifest as plain JSON-ready data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """Rebuild a manifest from :meth:`to_dict` output."""
        return cls(
            seed=data["seed"],
            order_lines_requested=data["order_lines_requested"],
            files={k: FileInfo(**v) for k, v in data["files"].items()},
            expected={k: Expected(**v) for k, v in data["expected"].items()},
            injected=data["injected"],
            defect_lines=data["defect_lines"],
        )

    @classmethod
    def read(cls, out_dir: str | Path) -> Manifest:
        """Read ``_generator_manifest.json`` from a generated directory."""
        return cls.from_dict(json.loads((Path(out_dir) / MANIFEST_NAME).read_text("utf-8")))


@dataclass
class _Output:
    """One dataset's rendered lines (without header) and its defect bookkeeping."""

    lines: list[str]
    injected: dict[str, int]
    defect_lines: dict[str, list[int]]
    duplicates: int
    quarantined: int
    flagged_unknown_product: int = 0

    def expected(self) -> Expected:
        rows = len(self.lines)
        return Expected(
            rows_in=rows,
            rows_silver=rows - self.duplicates - self.quarantined,
            duplicates=self.duplicates,
            quarantined=self.quarantined,
            flagged=self.flagged_unknown_product,
            flagged_unknown_product=self.flagged_unknown_product,
        )


# ---------------------------------------------------------------------------------------------
# Sizes and defect counts


@dataclass(frozen=True)
class Plan:
    """How many rows of each dataset, and whether defects are injected."""

    order_lines: int
    customers: int
    products: int
    reviews: int
    defects: bool

    @classmethod
    def for_order_lines(cls, order_lines: int, defects: bool = True) -> Plan:
        """Scale the other datasets with the number of order lines."""
        return cls(
            order_lines=order_lines,
            customers=max(50, order_lines // 100),
            products=max(40, order_lines // 250),
            reviews=max(50, order_lines // 20),
            defects=defects and order_lines >= MIN_ORDER_LINES_FOR_DEFECTS,
        )

    def count(self, rows: int, per: int) -> int:
        """One defect per ``per`` rows, at least one, or none when defects are off."""
        return max(1, rows // per) if self.defects else 0

    def order_line_defects(self) -> dict[str, int]:
        n = self.order_lines
        return {
            "exact_duplicate": self.count(n, 250),
            "unparseable_number": self.count(n, 500),
            "unparseable_date": self.count(n, 1000),
            "too_many_fields": self.count(n, 1000),
            "too_few_fields": self.count(n, 1000),
            "negative_unit_price": self.count(n, 2000),
            "unknown_product": self.count(n, 500),
        }


# ---------------------------------------------------------------------------------------------
# Small helpers


def _csv_field(value: str) -> str:
    """RFC-4180: quote a field holding a comma, quote or line break; double inner quotes."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@lru_cache(maxsize=4096)
def _day(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


def _iso_day(day: int) -> str:
    return _day(day).isoformat()


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _ascii(text: str) -> str:
    """Strip accents for e-mail addresses: José -> jose."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in plain.lower() if c.isalnum())


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> FloatArray:
    """Long-tailed popularity, with the popular ones at random positions."""
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    w = w[rng.permutation(n)]
    return w / w.sum()


def _later_occurrence(group: IntArray, value: IntArray, n_values: int) -> npt.NDArray[np.bool_]:
    """True for every (group, value) pair already seen earlier in the arrays."""
    key = group.astype(np.int64) * n_values + value
    order = np.argsort(key, kind="stable")
    repeated = np.zeros(len(key), dtype=bool)
    sorted_key = key[order]
    repeated[order[1:]] = sorted_key[1:] == sorted_key[:-1]
    return repeated


def _day_weights() -> FloatArray:
    """Trading-day weights: the UCI month totals spread over open days, by weekday."""
    n_days = (END - START).days + 1
    factors = np.zeros(n_days)
    for d in range(n_days):
        day = _day(d)
        if not (CLOSED[0] <= day <= CLOSED[1]):
            factors[d] = WEEKDAY_FACTOR[day.weekday()]
    months = np.array([(_day(d).year, _day(d).month) for d in range(n_days)])
    weights = np.zeros(n_days)
    for (year, month), lines in MONTH_LINES.items():
        in_month = (months[:, 0] == year) & (months[:, 1] == month)
        weights[in_month] = lines * factors[in_month] / factors[in_month].sum()
    return weights / weights.sum()


# ---------------------------------------------------------------------------------------------
# Master data: customers and products (attributes needed before the orders are drawn)


@dataclass
class _Customers:
    ids: IntArray
    country: IntArray
    weight: FloatArray
    first: IntArray
    last: IntArray


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


# ---------------------------------------------------------------------------------------------
# Order lines: invoices, then lines


@dataclass
class _Orders:
    """Clean order lines as arrays, one entry per line; invoices as arrays, one per invoice."""

    inv_day: IntArray
    inv_minute: IntArray
    inv_cancel: npt.NDArray[np.bool_]
    inv_customer: IntArray  # -1 for a guest invoice
    inv_country: IntArray
    line_inv: IntArray
    line_item: IntArray  # product index, or n_products + non-product index
    line_qty: IntArray
    line_cents: IntArray


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


# ---------------------------------------------------------------------------------------------
# Rendering order lines, with defects


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


# ---------------------------------------------------------------------------------------------
# Customers and products files


def _first_day(index: IntArray, day: IntArray, n: int) -> IntArray:
    """First day each entity appears in the orders; a large number when it never does."""
    first = np.full(n, 10**6, dtype=np.int64)
    np.minimum.at(first, index, day)
    return first


def _timestamp(day: int, seconds: int) -> str:
    return (
        datetime.combine(_day(day), datetime.min.time()) + timedelta(seconds=int(seconds))
    ).strftime("%Y-%m-%d %H:%M:%S")


def _insert_lines(
    lines: list[str], extra: list[str], rng: np.random.Generator
) -> tuple[list[str], list[int]]:
    """Insert ``extra`` at random places; return the lines and the extras' 0-based positions."""
    at = np.sort(rng.integers(0, len(lines) + 1, len(extra)))
    order = np.insert(np.arange(len(lines)), at, -1 - np.arange(len(extra)))
    out = [lines[i] if i >= 0 else extra[-1 - i] for i in order.tolist()]
    return out, np.flatnonzero(order < 0).tolist()


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


# ---------------------------------------------------------------------------------------------
# Inventory


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


# ---------------------------------------------------------------------------------------------
# Reviews


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


# ---------------------------------------------------------------------------------------------
# The entry point


def _write(path: Path, header: str | None, lines: Sequence[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        if header is not None:
            f.write(header + "\n")
        f.write("\n".join(lines))
        f.write("\n")
    return path.stat().st_size


def generate(
    out_dir: str | Path,
    order_lines: int,
    seed: int = 42,
    *,
    defects: bool = True,
    progress: ProgressCallback | None = None,
) -> Manifest:
    """Write the five source datasets in the landing layout and a manifest of injected defects.

    Parameters
    ----------
    out_dir
        Directory to write ``<dataset>/<file>`` and ``_generator_manifest.json`` into; created if
        missing. Existing files of the same names are overwritten, nothing else is touched.
    order_lines
        Data lines in ``order_lines.csv`` (defective lines included); the other datasets scale
        with it (see ``Plan.for_order_lines``).
    seed
        Seed for every random draw: the same arguments give the same bytes.
    defects
        Inject the documented defects (only when ``order_lines >= 200``).
    progress
        Called as ``progress(stage, fraction_done)`` while generating.

    Returns
    -------
    Manifest
        Files written, the counts silver should report, and the injected defects.

    Raises
    ------
    ValueError
        If ``order_lines`` is below 1 or above 10,000,000 (invoice numbers have 6 digits).
    """
    if not 1 <= order_lines <= MAX_ORDER_LINES:
        raise ValueError(f"order_lines must be between 1 and {MAX_ORDER_LINES}, got {order_lines}")

    def report(stage: str, done: float) -> None:
        if progress is not None:
            progress(stage, done)

    plan = Plan.for_order_lines(order_lines, defects)
    counts = plan.order_line_defects()
    streams = np.random.SeedSequence(seed).spawn(6)
    rng = {
        name: np.random.default_rng(s)
        for name, s in zip(
            ("customers", "products", "orders", "order_defects", "inventory", "reviews"),
            streams,
            strict=True,
        )
    }
    report("customers and products", 0.0)
    customers = _make_customers(plan.customers, rng["customers"])
    products = _make_products(plan.products, counts["unknown_product"], rng["products"])
    report("invoices", 0.05)
    orders = _make_orders(
        order_lines - counts["exact_duplicate"], customers, products, rng["orders"]
    )
    report("order lines", 0.3)
    outputs = {
        "order_lines": _render_order_lines(
            orders, customers, products, counts, rng["order_defects"]
        )
    }
    report("customers", 0.6)
    outputs["customers"] = _render_customers(customers, orders, plan, rng["customers"])
    outputs["products"] = _render_products(products, orders, plan, rng["products"])
    report("inventory", 0.65)
    outputs["inventory"] = _render_inventory(products, orders, plan, rng["inventory"])
    report("reviews", 0.75)
    outputs["reviews"] = _render_reviews(customers, products, orders, plan, rng["reviews"])
    report("writing", 0.8)
    return _write_all(Path(out_dir), seed, order_lines, outputs, report)


def _write_all(
    out: Path,
    seed: int,
    order_lines: int,
    outputs: dict[str, _Output],
    report: Callable[[str, float], None],
) -> Manifest:
    files = {}
    for k, name in enumerate(DATASETS):
        size = _write(out / FILES[name], HEADERS.get(name), outputs[name].lines)
        files[name] = FileInfo(FILES[name], len(outputs[name].lines), size)
        report(f"writing {name}", 0.8 + 0.2 * (k + 1) / len(DATASETS))
    manifest = Manifest(
        seed=seed,
        order_lines_requested=order_lines,
        files=files,
        expected={name: outputs[name].expected() for name in DATASETS},
        injected={name: outputs[name].injected for name in DATASETS},
        defect_lines={name: outputs[name].defect_lines for name in DATASETS},
    )
    (out / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", "utf-8")
    report("done", 1.0)
    return manifest
