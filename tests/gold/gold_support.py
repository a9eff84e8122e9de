"""Helpers of the incremental-gold tests: deliveries cut from generated data, and gold's rows."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from medallion.local.jobrunner import JobResult
from medallion.sample.generate import generate

DATASETS = ("order_lines", "customers", "products", "inventory", "reviews")
# What gold keeps or publishes that a full refresh and an incremental run must agree on.
GOLD_TABLES = (
    "gold/sales_daily",
    "gold/product_monthly",
    "gold/inventory_health",
    "gold/customer_rfm",
    "gold/customer_lifetime",
    "gold/cohort_retention",
    "gold/customer_value",
    "gold/customer_value_model",
    "_meta/gold/customer_activity",
    "_meta/gold/customer_summary",
    "_meta/gold/customer_cohorts",
    "_meta/gold/product_descriptions",
    "_meta/gold/product_daily",
    "_meta/gold/product_catalogue",
)


def table_files(folder: Path) -> list[Path]:
    """A table's Parquet files as Athena reads them: none under a hidden or ``_`` folder."""
    files = [
        f
        for f in sorted(folder.rglob("*.parquet"))
        if not any(part.startswith(("_", ".")) for part in f.relative_to(folder).parts)
    ]
    assert files, f"{folder} has no Parquet files"
    return files


def table_rows(lake: Path, table: str) -> pd.DataFrame:
    """A table's rows as Athena (or DuckDB) reads its Parquet files, sorted, partitions included."""
    files = [str(f) for f in table_files(lake / table)]
    frame = duckdb.sql(
        f"select * from read_parquet({files!r}, hive_partitioning = true, union_by_name = true)"
    ).df()
    if table.endswith("customer_value_model"):
        # One row per run: the latest fit, without the run's id and time.
        frame = frame.sort_values("fitted_at").tail(1).drop(columns=["run_id", "fitted_at"])
    # _latest: a tie-breaker; max_invoice_bound: an upper bound, exact only after a full refresh
    # (an incremental run never lowers it), so the two paths may disagree on it.
    frame = frame.drop(columns=[c for c in frame.columns if c in ("_latest", "max_invoice_bound")])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def gold_tables(lake: Path) -> dict[str, pd.DataFrame]:
    return {table: table_rows(lake, table) for table in GOLD_TABLES}


def assert_same_tables(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    assert sorted(actual) == sorted(expected)
    for table, frame in expected.items():
        pd.testing.assert_frame_equal(actual[table], frame, check_dtype=False, obj=table)


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def day_of(invoice_date: str) -> date:
    """An invoice's day; the generator's malformed dates count as the first day (they are
    quarantined wherever they land)."""
    try:
        return datetime.strptime(invoice_date, "%m/%d/%Y %H:%M").date()
    except ValueError:
        return date.min


@dataclass
class Source:
    """Generated data, cut into an initial load and the deliveries that may follow it.

    The initial load holds every dataset, the order lines of the first half of the days, less
    a fifth of those days' invoices, held back to arrive late.
    """

    folder: Path
    header: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, list[list[str]]] = field(default_factory=dict)
    initial: list[list[str]] = field(default_factory=list)
    later_days: list[list[list[str]]] = field(default_factory=list)
    held_back: list[list[list[str]]] = field(default_factory=list)

    @classmethod
    def generated(cls, folder: Path, order_lines: int, seed: int) -> Source:
        generate(folder, order_lines, seed)
        source = cls(folder)
        for dataset in ("order_lines", "customers", "products"):
            with (folder / dataset / f"{dataset}.csv").open(newline="") as handle:
                header, *rows = list(csv.reader(handle))
            source.header[dataset], source.rows[dataset] = header, rows
        by_invoice: dict[str, list[list[str]]] = {}
        for row in source.rows["order_lines"]:
            # A malformed line (the generator writes a few) has its own key: it goes first.
            key = row[0] if len(row) == len(source.header["order_lines"]) else f"bad-{id(row)}"
            by_invoice.setdefault(key, []).append(row)
        days = sorted({day_of(r[4]) for r in source.rows["order_lines"] if len(r) > 4})
        cut = days[len(days) // 2]
        rng = random.Random(seed)
        for lines in by_invoice.values():
            if len(lines[0]) > 4 and day_of(lines[0][4]) >= cut:
                continue
            if len(lines[0]) > 4 and day_of(lines[0][4]) > date.min and rng.random() < 0.2:
                source.held_back.append(lines)
            else:
                source.initial.extend(lines)
        dated = [r for r in source.rows["order_lines"] if len(r) > 4]
        later = sorted((r for r in dated if day_of(r[4]) >= cut), key=lambda r: day_of(r[4]))
        later_days = sorted({day_of(r[4]) for r in later})
        chunks = [later_days[i::3] for i in range(3)]  # three deliveries of (interleaved) days
        source.later_days = [[r for r in later if day_of(r[4]) in set(c)] for c in chunks]
        return source

    def land_initial(self, landing: Path) -> None:
        for dataset in ("customers", "products", "inventory", "reviews"):
            shutil.copytree(self.folder / dataset, landing / dataset)
        self.write(landing, "order_lines", "initial.csv", self.initial)

    def write(self, landing: Path, dataset: str, name: str, rows: list[list[str]]) -> None:
        (landing / dataset).mkdir(parents=True, exist_ok=True)
        (landing / dataset / name).write_text(_csv(self.header[dataset], rows))


@dataclass
class Deliveries:
    """Lands the next delivery of each kind into a landing folder, tracking what was sent."""

    source: Source
    landing: Path
    rng: random.Random
    sent: list[list[str]] = field(default_factory=list)
    count: int = 0

    def land(self, kinds: tuple[str, ...]) -> None:
        self.count += 1
        for kind in kinds:
            getattr(self, kind)(f"delivery-{self.count}-{kind}.csv")

    def _lines(self, name: str, rows: list[list[str]]) -> None:
        self.source.write(self.landing, "order_lines", name, rows)
        self.sent.extend(rows)

    def new_days(self, name: str) -> None:
        if self.source.later_days:
            self._lines(name, self.source.later_days.pop(0))

    def late_lines(self, name: str) -> None:
        """Whole invoices of old days that were held back."""
        held = self.source.held_back
        late = [held.pop(self.rng.randrange(len(held))) for _ in range(min(3, len(held)))]
        self._lines(name, [line for invoice in late for line in invoice])

    def duplicates(self, name: str) -> None:
        """Lines already delivered, sent again exactly as they were."""
        pool = self.sent or self.source.initial
        self._lines(name, self.rng.sample(pool, min(8, len(pool))))

    def products_only(self, name: str) -> None:
        """Some products re-sent with a new category and description, updated later."""
        rows = self.rng.sample(self.source.rows["products"], 6)
        changed = [
            [r[0], f"{r[1]} V{self.count}", f"Category {self.count}", *r[3:6],
             f"2012-06-{self.count:02d} 10:00:00"]
            for r in rows
        ]  # fmt: skip
        self.source.write(self.landing, "products", name, changed)

    def customers_resent(self, name: str) -> None:
        """Some customers re-sent with another country, updated later."""
        rows = self.rng.sample(self.source.rows["customers"], 5)
        changed = [[*r[:4], "Norway", r[5], f"2012-06-{self.count:02d} 10:00:00"] for r in rows]
        self.source.write(self.landing, "customers", name, changed)


KINDS = ("new_days", "late_lines", "duplicates", "products_only", "customers_resent")


def run_layers(
    job_runner: Callable[..., JobResult],
    lake: Path,
    landing: Path,
    run_id: str,
    *,
    after: Callable[[str], None] = lambda layer: None,
    **gold: str,
) -> dict[str, Any]:
    """Bronze, silver and gold as a run of the pipeline runs them; gold's summary. ``after`` is
    called with "bronze", then "silver", as each has succeeded."""
    options = {"lake_root": str(lake), "run_id": run_id, "landing_root": str(landing)}
    for layer in ("bronze", "silver"):
        result = job_runner(layer, options)
        assert result.state == "SUCCEEDED", (layer, result.error_message)
        after(layer)
    result = job_runner("gold", {"lake_root": str(lake), "run_id": run_id, **gold})
    assert result.state == "SUCCEEDED", ("gold", result.error_message)
    return result.summary


def run_record(lake: Path, run_id: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(
        (lake / "_meta" / "gold" / "runs" / f"{run_id}.json").read_text()
    )
    return record
