"""The incremental benchmark's history by years (benchmarks/history.py), on small years.

Each earlier year must be the generated year moved back whole: the same rows, every date that
is a date 54 weeks earlier (so on the same weekday), years that do not overlap, and invoice
numbers and review ids no other year has (six digits, above the delivery's).
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import history

from medallion.sample.common import FILES

YEARS, PER_YEAR = 3, 2_000


def rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))[1:]


def invoice_day(text: str) -> date | None:
    try:
        return datetime.strptime(text, "%m/%d/%Y %H:%M").date()
    except ValueError:
        return None


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("years") / "landing"
    patch = pytest.MonkeyPatch()
    patch.setattr(history, "YEAR_LINES", PER_YEAR)
    try:
        made = history.write_history(out, YEARS * PER_YEAR, seed=7)
    finally:
        patch.undo()
    assert made["years"] == YEARS and made["lines_per_year"] == PER_YEAR
    return out


def test_each_earlier_year_is_the_generated_year_moved_back_whole(landing: Path) -> None:
    newest = rows(landing / FILES["order_lines"])
    assert len(newest) == PER_YEAR
    spans = []
    for back in range(YEARS):
        year = rows(landing / history.year_file("order_lines", back))
        assert len(year) == PER_YEAR
        days = []
        for old, new in zip(newest, year, strict=True):
            assert old[1:4] == new[1:4] and old[5:] == new[5:]  # all but invoice and date
            was, now = invoice_day(old[4]), invoice_day(new[4])
            if was is None:
                assert new[4] == old[4]  # an injected unparseable date stays as generated
                continue
            assert now is not None and (was - now).days == 378 * back
            assert now.weekday() == was.weekday()
            days.append(now)
        spans.append((min(days), max(days)))
    assert spans[0] == (date(2010, 12, 1), date(2011, 12, 9))
    for newer, older in itertools.pairwise(spans):
        assert older[1] < newer[0]  # an earlier year ends before the next one starts


def test_invoices_and_review_ids_are_unique_to_their_year(landing: Path) -> None:
    invoices: list[set[str]] = []
    reviews: list[set[str]] = []
    for back in range(YEARS):
        numbers = {
            r[0].removeprefix("C")
            for r in rows(landing / history.year_file("order_lines", back))
            if r
        }
        assert all(len(n) == 6 and n.isdigit() and int(n) >= 200_000 for n in numbers)
        invoices.append(numbers)
        with (landing / history.year_file("reviews", back)).open(encoding="utf-8") as f:
            ids = set()
            for line in f:
                try:
                    review = json.loads(line)
                except ValueError:
                    continue
                if isinstance(review, dict) and review.get("review_id"):
                    ids.add(review["review_id"])
        reviews.append(ids)
    for i in range(YEARS):
        for j in range(i + 1, YEARS):
            assert not invoices[i] & invoices[j] and not reviews[i] & reviews[j]
    # The oldest year has the lowest numbers, as a shop's invoices grow with time.
    assert max(map(int, invoices[-1])) < min(map(int, invoices[0]))


def test_records_are_resent_each_year_with_their_dates_moved(landing: Path) -> None:
    for dataset, column in (("customers", 6), ("products", 6)):
        newest = rows(landing / FILES[dataset])
        oldest = rows(landing / history.year_file(dataset, YEARS - 1))
        assert [r[0] for r in oldest] == [r[0] for r in newest]
        moved = [
            (datetime.fromisoformat(a[column]) - datetime.fromisoformat(b[column]))
            for a, b in zip(newest, oldest, strict=True)
            if len(a) > column and a[column][:1].isdigit()
        ]
        assert moved and set(moved) == {timedelta(weeks=54) * (YEARS - 1)}
    newest_days = {r[0] for r in rows(landing / FILES["inventory"]) if r}
    oldest_days = {r[0] for r in rows(landing / history.year_file("inventory", YEARS - 1)) if r}
    back = timedelta(weeks=54) * (YEARS - 1)
    assert oldest_days == {str(date.fromisoformat(d) - back) for d in newest_days}


def test_a_history_by_years_is_whole_years() -> None:
    with pytest.raises(ValueError, match="multiple of"):
        history.write_history(Path("/nonexistent"), history.YEAR_LINES + 1, seed=1)
