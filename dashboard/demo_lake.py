"""A small, deterministic gold/silver/quality lake in the documented layouts, for tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MONEY = pa.decimal128(18, 2)
COUNTRIES = ("United Kingdom", "France", "Germany")
SEGMENTS = ("Champions", "Loyal", "At Risk", "Lost", "New")
WAREHOUSES = ("north", "south")


@dataclass
class DemoLake:
    """The lake's root and the pandas frames written into it (the expected inputs of every view)."""

    root: Path
    marts: dict[str, pd.DataFrame]
    quality_results: pd.DataFrame
    quality_runs: pd.DataFrame
    silver_order_lines: pd.DataFrame


def _money(values: np.ndarray) -> list[Decimal]:
    return [Decimal(f"{v:.2f}") for v in values]


def _write_parquet(df: pd.DataFrame, path: Path, schema: pa.Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(df, schema=schema, preserve_index=False), path)


def _sales_daily(rng: np.random.Generator) -> pd.DataFrame:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(0, 400, 3)]
    rows = []
    for day in days:
        for country in COUNTRIES:
            # Germany sells nothing in March 2024: its April growth must be NULL, not vs February.
            if country == "Germany" and (day.year, day.month) == (2024, 3):
                continue
            orders = int(rng.integers(1, 40))
            gross = float(rng.uniform(50, 5000))
            cancelled = float(rng.uniform(0, gross / 10))
            rows.append((day, country, orders, orders * 3, gross, cancelled, orders % 7 + 1))
    df = pd.DataFrame(
        rows,
        columns=["sales_date", "country", "orders", "units", "gross", "cancelled", "customers"],
    )
    df["gross_revenue"] = _money(df.pop("gross").to_numpy())
    df["cancelled_value"] = _money(df.pop("cancelled").to_numpy())
    df["net_revenue"] = [g - c for g, c in zip(df.gross_revenue, df.cancelled_value, strict=True)]
    df["avg_order_value"] = [
        (n / o).quantize(Decimal("0.01")) for n, o in zip(df.net_revenue, df.orders, strict=True)
    ]
    return df[
        [
            "sales_date",
            "country",
            "orders",
            "units",
            "gross_revenue",
            "cancelled_value",
            "net_revenue",
            "customers",
            "avg_order_value",
        ]
    ]


def _product_monthly(rng: np.random.Generator) -> pd.DataFrame:
    months = [date(2024, m, 1) for m in range(1, 13)] + [date(2025, 1, 1), date(2025, 2, 1)]
    rows = []
    for month in months:
        for i in range(14):
            units = int(rng.integers(0, 300))
            revenue = round(units * (1 + i % 5) * 1.25, 2)
            if i in (3, 4):  # a tie in revenue, broken by stock code
                revenue = 999.50
            returned = int(rng.integers(0, max(units // 10, 1)))
            reviews = int(rng.integers(0, 5))
            rating = float(rng.uniform(1, 5)) if reviews else None
            rows.append(
                (
                    month,
                    f"2{i:04d}",
                    f"PRODUCT {i}",
                    f"cat{i % 3}",
                    units,
                    revenue,
                    returned,
                    returned / units if units else None,
                    reviews,
                    rating,
                )
            )
    df = pd.DataFrame(
        rows,
        columns=[
            "month",
            "stock_code",
            "description",
            "category",
            "units_sold",
            "rev",
            "units_returned",
            "return_rate",
            "review_count",
            "avg_rating",
        ],
    )
    df.insert(5, "revenue", _money(df.pop("rev").to_numpy()))
    return df


def _inventory_health() -> pd.DataFrame:
    rows = []
    for snapshot in (date(2025, 2, 20), date(2025, 2, 27)):
        for i in range(8):
            for warehouse in WAREHOUSES:
                on_hand = 0 if i == 0 else i * 10 + (5 if warehouse == "south" else 0)
                avg = 0.0 if i == 7 else float(i + 1) * 1.5
                cover = None if avg == 0 else on_hand / avg
                # the earlier snapshot has alerts that must not show: only the latest counts
                if snapshot.day == 20:
                    on_hand, cover = 0, 0.0
                rows.append(
                    (
                        snapshot,
                        f"2{i:04d}",
                        warehouse,
                        on_hand,
                        20 if i == 5 else 0,
                        avg,
                        cover,
                        on_hand <= 0,
                        i == 5 or on_hand <= 0,
                    )
                )
    return pd.DataFrame(
        rows,
        columns=[
            "snapshot_date",
            "stock_code",
            "warehouse",
            "on_hand",
            "on_order",
            "avg_daily_units_28d",
            "days_of_cover",
            "is_stock_out",
            "needs_reorder",
        ],
    )


def _customer_rfm(rng: np.random.Generator) -> pd.DataFrame:
    n = 120
    ids = np.arange(12000, 12000 + n)
    recency = rng.integers(0, 400, n)
    frequency = rng.integers(1, 30, n)
    monetary = rng.uniform(-20, 3000, n)
    scores = rng.integers(1, 6, (n, 3))
    df = pd.DataFrame(
        {
            "customer_id": ids.astype("int64"),
            "last_purchase_date": [date(2025, 2, 28) - timedelta(days=int(r)) for r in recency],
            "recency_days": recency.astype("int32"),
            "frequency": frequency.astype("int64"),
            "monetary": _money(monetary),
            "r_score": scores[:, 0].astype("int32"),
            "f_score": scores[:, 1].astype("int32"),
            "m_score": scores[:, 2].astype("int32"),
        }
    )
    df["rfm_score"] = [f"{r}{f}{m}" for r, f, m in scores]
    df["segment"] = [SEGMENTS[i % len(SEGMENTS)] if i % 11 else "Champions" for i in range(n)]
    return df


def _cohort_retention() -> pd.DataFrame:
    rows = []
    last = (2025, 2)
    for k in range(14):
        year, month = 2024 + k // 12, k % 12 + 1
        size = 20 + k
        horizon = (last[0] - year) * 12 + last[1] - month
        for since in range(horizon + 1):
            if since == 2 and k % 4 == 1:  # a month nobody came back: no row in the mart
                continue
            active = size if since == 0 else max(size // (since + 1) - k % 3, 1)
            rows.append((date(year, month, 1), since, active, size, active / size))
    return pd.DataFrame(
        rows,
        columns=[
            "cohort_month",
            "months_since",
            "active_customers",
            "cohort_size",
            "retention_rate",
        ],
    )


def _customer_lifetime(rfm: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": rfm.customer_id,
            "frequency": (rfm.frequency - 1).astype("float64"),
            "recency": rfm.recency_days.astype("float64"),
            "T": rfm.recency_days.astype("float64") + 10,
            "monetary_value": rfm.monetary.astype(float),
            "first_purchase_date": rfm.last_purchase_date - timedelta(days=30),
            "last_purchase_date": rfm.last_purchase_date,
            "orders": rfm.frequency,
            "total_revenue": rfm.monetary,
            "observation_end": date(2025, 2, 28),
        }
    )


SCHEMAS = {
    "sales_daily": pa.schema(
        [
            ("sales_date", pa.date32()),
            ("country", pa.string()),
            ("orders", pa.int64()),
            ("units", pa.int64()),
            ("gross_revenue", MONEY),
            ("cancelled_value", MONEY),
            ("net_revenue", MONEY),
            ("customers", pa.int64()),
            ("avg_order_value", MONEY),
        ]
    ),
    "product_monthly": pa.schema(
        [
            ("month", pa.date32()),
            ("stock_code", pa.string()),
            ("description", pa.string()),
            ("category", pa.string()),
            ("units_sold", pa.int64()),
            ("revenue", MONEY),
            ("units_returned", pa.int64()),
            ("return_rate", pa.float64()),
            ("review_count", pa.int64()),
            ("avg_rating", pa.float64()),
        ]
    ),
    "inventory_health": pa.schema(
        [
            ("snapshot_date", pa.date32()),
            ("stock_code", pa.string()),
            ("warehouse", pa.string()),
            ("on_hand", pa.int32()),
            ("on_order", pa.int32()),
            ("avg_daily_units_28d", pa.float64()),
            ("days_of_cover", pa.float64()),
            ("is_stock_out", pa.bool_()),
            ("needs_reorder", pa.bool_()),
        ]
    ),
    "customer_rfm": pa.schema(
        [
            ("customer_id", pa.int64()),
            ("last_purchase_date", pa.date32()),
            ("recency_days", pa.int32()),
            ("frequency", pa.int64()),
            ("monetary", MONEY),
            ("r_score", pa.int32()),
            ("f_score", pa.int32()),
            ("m_score", pa.int32()),
            ("rfm_score", pa.string()),
            ("segment", pa.string()),
        ]
    ),
    "customer_lifetime": pa.schema(
        [
            ("customer_id", pa.int64()),
            ("frequency", pa.float64()),
            ("recency", pa.float64()),
            ("T", pa.float64()),
            ("monetary_value", pa.float64()),
            ("first_purchase_date", pa.date32()),
            ("last_purchase_date", pa.date32()),
            ("orders", pa.int64()),
            ("total_revenue", MONEY),
            ("observation_end", pa.date32()),
        ]
    ),
    "cohort_retention": pa.schema(
        [
            ("cohort_month", pa.date32()),
            ("months_since", pa.int32()),
            ("active_customers", pa.int64()),
            ("cohort_size", pa.int64()),
            ("retention_rate", pa.float64()),
        ]
    ),
}


def _quality(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    results, runs = [], []
    for n, run_id in enumerate(("run-2025-02-27", "run-2025-02-28")):
        for dataset in ("order_lines", "customers", "reviews"):
            rules = ["not_null_invoice_no", "range_quantity", "row_count"]
            if n == 0:
                rules.append("freshness")  # evaluated only in the first run: latest is run 1's
            rows_in, quarantined, duplicate = 1000 + n * 10, 7 + n, 3
            for rule in rules:
                failed = (len(rule) + n) % 4 if rule != "row_count" else 0
                status = "fail" if failed == 3 else "warn" if failed == 2 else "pass"
                results.append(
                    {
                        "run_id": run_id,
                        "dataset": dataset,
                        "rule_id": rule,
                        "rule_type": rule.split("_")[0],
                        "scope": "dataset" if rule == "row_count" else "row",
                        "severity": "error" if rule.startswith("not_null") else "warn",
                        "target": "invoice_no",
                        "checked": rows_in,
                        "failed": failed,
                        "fail_ratio": failed / rows_in,
                        "threshold": 0.01,
                        "status": status,
                        "message": f"{failed} rows failed {rule}",
                        "evaluated_at": f"2025-02-{27 + n}T06:00:0{n}+00:00",
                    }
                )
            runs.append(
                {
                    "run_id": run_id,
                    "dataset": dataset,
                    "bronze_runs": [run_id],
                    "rows_in": rows_in,
                    "rows_silver": rows_in - quarantined - duplicate,
                    "rows_quarantined": quarantined,
                    "rows_duplicate": duplicate,
                    "rows_flagged": 2,
                    "status": "warned" if n else "passed",
                    "failed_rules": [] if n == 0 else ["range_quantity"],
                    "partitions_written": ["year=2025/month=2/day=27"],
                    "started_at": f"2025-02-{27 + n}T05:00:00+00:00",
                    "finished_at": f"2025-02-{27 + n}T05:10:00+00:00",
                }
            )
    for kind, records in (("results", results), ("runs", runs)):
        for rec in records:
            path = root / "quality" / kind / f"dataset={rec['dataset']}" / f"run_id={rec['run_id']}"
            path.mkdir(parents=True, exist_ok=True)
            name = "results.json" if kind == "results" else "summary.json"
            with open(path / name, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
    return pd.DataFrame(results), pd.DataFrame(runs)


def _silver_order_lines(root: Path) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "invoice_no": ["536365", "536366", "C536367"],
            "stock_code": ["20000", "20001", "20000"],
            "quantity": pd.array([6, 2, -1], dtype="int32"),
            "customer_id": pd.array([12000, None, 12001], dtype="Int64"),
            "day": [1, 1, 2],
        }
    )
    for day, part in df.groupby("day"):
        path = root / "silver" / "order_lines" / "year=2024" / "month=1" / f"day={day}"
        _write_parquet(
            part.drop(columns="day"),
            path / "part-00000.parquet",
            pa.schema(
                [
                    ("invoice_no", pa.string()),
                    ("stock_code", pa.string()),
                    ("quantity", pa.int32()),
                    ("customer_id", pa.int64()),
                ]
            ),
        )
    # Spark's leftovers must not become rows or partitions
    (root / "silver" / "order_lines" / "_SUCCESS").write_text("")
    (root / "silver" / "order_lines" / "_temporary").mkdir(exist_ok=True)
    return df


def build_demo_lake(root: Path, seed: int = 7) -> DemoLake:
    """Write a small lake with every gold mart, some silver and the quality records.

    Parameters
    ----------
    root
        The lake directory to write into (created when missing).
    seed
        Seed of the random numbers; the same seed gives the same lake.

    Returns
    -------
    DemoLake
        The root and the frames written, for tests to compute expected numbers from.
    """
    rng = np.random.default_rng(seed)
    rfm = _customer_rfm(rng)
    marts = {
        "sales_daily": _sales_daily(rng),
        "product_monthly": _product_monthly(rng),
        "inventory_health": _inventory_health(),
        "customer_rfm": rfm,
        "customer_lifetime": _customer_lifetime(rfm),
        "cohort_retention": _cohort_retention(),
    }
    for name, df in marts.items():
        _write_parquet(df, root / "gold" / name / "part-00000.parquet", SCHEMAS[name])
    results, runs = _quality(root)
    silver = _silver_order_lines(root)
    return DemoLake(root, marts, results, runs, silver)
