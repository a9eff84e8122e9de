"""What every dataset of the sample shares: the calendar, scale, vocabularies and small helpers."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache

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
