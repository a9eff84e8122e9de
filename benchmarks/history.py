"""A history that grows by years: the generator's trading year, repeated back in time.

``medallion.sample.generate`` spreads any number of order lines over the same thirteen months
(1 December 2010 to 9 December 2011), with a catalogue, customers and reviews scaled to them: a
bigger history is a denser one. A retailer's history grows by days instead: the shop sells about
as much each day, and each year adds a year of partitions. ``write_history`` builds that shape:
the generator's year of ``YEAR_LINES`` order lines (one seed, so one catalogue and one customer
base), written once as it is and once for each earlier year, every date moved back by a whole
number of ``SHIFT`` (54 weeks: the generated span is 374 days, so the years do not overlap and
each date keeps its weekday). A history of at most ``YEAR_LINES`` is one year, as generated.

Each earlier year is a landing file of its own beside the generated one
(``order_lines/order_lines.year-minus-3.csv``), with its invoice numbers and review ids moved to
ranges no other year uses (six-digit invoices, as the contract expects, from ``FIRST_INVOICE``
up, the oldest year lowest; the delivery's invoices come after them all), and its customers' and
products' records re-sent with their dates moved, so the newest year's records are the current
ones. Text that is not a date the generator writes (its injected defects) is left as it is.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from medallion.sample.common import FILES
from medallion.sample.generate import generate

YEAR_LINES = 500_000
SHIFT = timedelta(weeks=54)
FIRST_INVOICE = 200_000
LAST_INVOICE = 989_999  # the delivery's invoices come after (benchmarks/delivery.py)
REVIEW_ID_STEP = 100_000  # review ids of one year: R<year * step + its own number>, 7 digits

# The date columns of each CSV dataset, with the format the generator writes them in.
ISO_DAY, ISO_TIME, US_MINUTE = "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M"
CSV_DATES = {
    "order_lines": {"InvoiceDate": US_MINUTE},
    "customers": {"SignupDate": ISO_DAY, "UpdatedAt": ISO_TIME},
    "products": {"IntroducedOn": ISO_DAY, "UpdatedAt": ISO_TIME},
    "inventory": {"SnapshotDate": ISO_DAY},
}


def year_file(dataset: str, years_back: int) -> str:
    """The landing path of one year's file: the generator's name, or ``<stem>.year-minus-N``."""
    path = FILES[dataset]
    if years_back == 0:
        return path
    stem, _, ext = path.rpartition(".")
    return f"{stem}.year-minus-{years_back}.{ext}"


def _us_minute(value: str, back: timedelta) -> str:
    """An ``M/D/YYYY H:MM`` time moved back (the generator writes no leading zeros)."""
    moved = datetime.strptime(value, US_MINUTE) - back
    return f"{moved.month}/{moved.day}/{moved.year} {moved.hour}:{moved.minute:02d}"


class Shifter:
    """Moves date texts back by a fixed span; remembers each text (a year has few days)."""

    def __init__(self, back: timedelta) -> None:
        self.back = back
        self._seen: dict[tuple[str, str], str] = {}

    def __call__(self, value: str, fmt: str) -> str:
        key = (value, fmt)
        if key not in self._seen:
            self._seen[key] = self._move(value, fmt)
        return self._seen[key]

    def _move(self, value: str, fmt: str) -> str:
        try:
            if fmt == US_MINUTE:
                return _us_minute(value, self.back)
            return (datetime.strptime(value, fmt) - self.back).strftime(fmt)
        except ValueError:
            return value  # an injected defect (or an empty field) stays as generated


def invoice_offsets(invoices: set[int], years: int) -> list[int]:
    """What to add to a generated invoice number in each year (index: years back), so that
    every year's numbers are six digits from FIRST_INVOICE, distinct, the oldest lowest."""
    low, high = min(invoices), max(invoices)
    span = high - low + 1
    if FIRST_INVOICE + years * span - 1 > LAST_INVOICE:
        raise ValueError(f"{years} years of {span} invoice numbers do not fit in six digits")
    return [FIRST_INVOICE + (years - 1 - back) * span - low for back in range(years)]


def _move_invoice(value: str, offset: int) -> str:
    number = value.removeprefix("C")
    if not number.isdigit():
        return value
    return ("C" if value.startswith("C") else "") + str(int(number) + offset)


def _write_csv_year(
    source: Path, target: Path, dataset: str, back: int, offset: int, shift: Shifter
) -> int:
    """One year's copy of a generated CSV file; its data rows."""
    with (
        source.open(encoding="utf-8", newline="") as f_in,
        target.open("w", encoding="utf-8", newline="") as f_out,
    ):
        reader, writer = csv.reader(f_in), csv.writer(f_out, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        dates = [(header.index(c), fmt) for c, fmt in CSV_DATES[dataset].items()]
        invoice = header.index("InvoiceNo") if dataset == "order_lines" else None
        rows = 0
        for row in reader:
            rows += 1
            if back:
                row = list(row)
                for i, fmt in dates:
                    if i < len(row):
                        row[i] = shift(row[i], fmt)
            if invoice is not None and row:
                row[invoice] = _move_invoice(row[invoice], offset)
            writer.writerow(row)
    return rows


def _write_reviews_year(source: Path, target: Path, back: int, shift: Shifter) -> int:
    """One year's copy of the generated reviews; a line that is not a JSON object stays."""
    rows = 0
    with source.open(encoding="utf-8") as f_in, target.open("w", encoding="utf-8") as f_out:
        for line in f_in:
            rows += 1
            if not back:
                f_out.write(line)
                continue
            try:
                review = json.loads(line)
            except ValueError:
                review = None
            if not isinstance(review, dict):
                f_out.write(line)
                continue
            created, rid = review.get("created_at"), review.get("review_id")
            if isinstance(created, str) and created.endswith("Z"):
                review["created_at"] = shift(created[:-1], "%Y-%m-%dT%H:%M:%S") + "Z"
            if isinstance(rid, str) and rid[1:].isdigit():
                review["review_id"] = f"R{back * REVIEW_ID_STEP + int(rid[1:]):07d}"
            f_out.write(json.dumps(review, ensure_ascii=False) + "\n")
    return rows


def write_history(out: Path, order_lines: int, seed: int) -> dict[str, Any]:
    """A landing folder ``out`` holding ``order_lines`` order lines of history grown by years.

    Returns the years, the lines per year and the rows written per dataset.
    """
    per_year = min(order_lines, YEAR_LINES)
    if order_lines % per_year:
        raise ValueError(f"a history by years needs a multiple of {YEAR_LINES:,} order lines")
    years = order_lines // per_year
    year = out.parent / f"{out.name}.one-year"
    shutil.rmtree(year, ignore_errors=True)
    generate(year, per_year, seed)
    with (year / FILES["order_lines"]).open(encoding="utf-8", newline="") as f:
        invoices = (r[0].removeprefix("C") for r in csv.reader(f) if r)
        numbers = {int(n) for n in invoices if n.isdigit()}
    offsets = invoice_offsets(numbers, years)
    rows: dict[str, int] = {name: 0 for name in FILES}
    for back in range(years):
        shift = Shifter(SHIFT * back)
        for dataset in FILES:
            target = out / year_file(dataset, back)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = year / FILES[dataset]
            if dataset == "reviews":
                rows[dataset] += _write_reviews_year(source, target, back, shift)
            else:
                rows[dataset] += _write_csv_year(
                    source, target, dataset, back, offsets[back], shift
                )
    shutil.rmtree(year)
    first = date(2010, 12, 1) - SHIFT * (years - 1)
    return {"years": years, "lines_per_year": per_year, "first_day": str(first), "rows": rows}
