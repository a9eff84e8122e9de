"""Gold transforms on handcrafted silver samples, against hand-worked or independent answers."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.gold import customers as c
from jobs.gold import transforms as t

ORDER_LINES = (
    "invoice_no string, stock_code string, description string, quantity int, "
    "invoiced_at timestamp, customer_id bigint, country string, is_cancellation boolean, "
    "is_product boolean, line_amount decimal(18,3)"
)
NON_PRODUCTS = {"POST", "M", "DOT", "BANK CHARGES"}
UK = "United Kingdom"
D = Decimal


def ts(text: str) -> datetime:
    """A UTC instant: naive datetimes would be read in the machine's local zone."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def line(
    invoice: str,
    code: str,
    qty: int,
    at: str,
    price: str,
    customer: int | None,
    country: str | None = UK,
    description: str | None = None,
) -> tuple[Any, ...]:
    """One silver order line; the derived columns worked out here, not by the silver job."""
    amount = (qty * D(price)).quantize(D("0.001"))
    return (invoice, code, description, qty, ts(at), customer, country,
            invoice.startswith("C"), code not in NON_PRODUCTS, amount)  # fmt: skip


def lines_frame(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, ORDER_LINES)


def rows_of(frame: DataFrame, *order: str) -> list[dict[str, Any]]:
    return [row.asDict() for row in frame.orderBy(*order).collect()]


# --- sales_daily -----------------------------------------------------------------------------


def test_daily_sales_by_country_books_cancellations_on_their_own_day(spark: SparkSession) -> None:
    sample = lines_frame(
        spark,
        [
            line("536365", "85123A", 6, "2024-01-05 08:00:00", "2.550", 17850),
            line("536365", "22633", 2, "2024-01-05 08:00:00", "3.390", 17850),
            line("536366", "85123A", 1, "2024-01-05 09:00:00", "2.555", 13047),
            line("536367", "POST", 1, "2024-01-05 10:00:00", "5.000", None),
            line("C536368", "85123A", -2, "2024-01-05 11:00:00", "2.550", 17850),
            # 5.025 rounds half-up to 5.03 (half-even would give 5.02).
            line("536369", "22633", 3, "2024-01-05 23:59:59", "1.675", 12680, "France"),
            # The next UTC day: only a cancellation in the UK, a guest with no country.
            line("C536370", "22633", -1, "2024-01-06 00:00:00", "3.390", 13047),
            line("536371", "22633", 1, "2024-01-06 12:00:00", "1.000", None, None),
        ],
    )
    actual = rows_of(t.daily_sales_by_country(sample), "sales_date", "country")
    header = ("sales_date", "country", "orders", "units", "gross_revenue", "cancelled_value",
              "net_revenue", "customers", "avg_order_value")  # fmt: skip
    expected = [
        (date(2024, 1, 5), "France", 1, 3, D("5.03"), D("0.00"), D("5.03"), 1, D("5.03")),
        # gross 15.300 + 6.780 + 2.555 + 5.000 (postage counts) = 29.635; 29.635 / 3 = 9.878
        (date(2024, 1, 5), UK, 3, 10, D("29.64"), D("5.10"), D("24.54"), 2, D("9.88")),
        (date(2024, 1, 6), UK, 0, 0, D("0.00"), D("3.39"), D("-3.39"), 0, None),
        (date(2024, 1, 6), "Unknown", 1, 1, D("1.00"), D("0.00"), D("1.00"), 0, D("1.00")),
    ]
    assert actual == [dict(zip(header, row, strict=True)) for row in expected]
    schema = dict(t.daily_sales_by_country(sample).dtypes)
    assert schema["gross_revenue"] == schema["net_revenue"] == "decimal(18,2)"
    assert schema["orders"] == schema["units"] == schema["customers"] == "bigint"


# --- product_monthly -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def product_lines(spark: SparkSession) -> DataFrame:
    return lines_frame(
        spark,
        [
            line("536365", "85123A", 6, "2024-01-05 08:00:00", "2.550", 1,
                 description="WHITE HEART"),
            line("536366", "85123A", 1, "2024-01-20 09:00:00", "2.555", 2,
                 description="WHITE HANGING HEART"),
            line("C536368", "85123A", -2, "2024-01-25 11:00:00", "2.550", 1),
            line("C536380", "85123A", -1, "2024-02-02 11:00:00", "2.550", 1),
            line("536365", "22633", 2, "2024-01-05 08:00:00", "3.390", 1),
            line("536365", "POST", 1, "2024-01-05 08:00:00", "18.000", 1,
                 description="POSTAGE"),
            line("536390", "99999", 1, "2024-02-10 08:00:00", "10.000", None,
                 description="MYSTERY"),
        ],
    )  # fmt: skip


def test_product_performance_by_month_with_catalogue_and_reviews(
    spark: SparkSession, product_lines: DataFrame
) -> None:
    products = spark.createDataFrame(
        [("85123A", "CATALOGUE HEART", "Home"), ("22633", "HAND WARMER", "Gifts")],
        "stock_code string, description string, category string",
    )
    ratings_22633 = [4, 5, 5, 5, 4, 5, 4, 5]  # 37 / 8 = 4.625 -> 4.63 half-up
    reviews = spark.createDataFrame(
        [("85123A", 5, ts("2024-01-31 23:59:59")), ("85123A", 4, ts("2024-01-02 00:00:00")),
         ("85123A", 5, ts("2024-02-01 00:00:00")), ("77777", 1, ts("2024-01-10 00:00:00"))]
        + [("22633", r, ts(f"2024-01-{10 + i:02d} 12:00:00")) for i, r in enumerate(ratings_22633)],
        "stock_code string, rating int, created_at timestamp",
    )  # fmt: skip
    actual = rows_of(
        t.product_performance_by_month(product_lines, products, reviews), "stock_code", "month"
    )
    header = ("stock_code", "month", "description", "category", "units_sold", "revenue",
              "units_returned", "return_rate", "review_count", "avg_rating")  # fmt: skip
    jan, feb = date(2024, 1, 1), date(2024, 2, 1)
    heart = "WHITE HANGING HEART"  # the latest line's description wins over the catalogue's
    expected = [
        ("22633", jan, "HAND WARMER", "Gifts", 2, D("6.78"), 0, 0.0, 8, D("4.63")),
        ("85123A", jan, heart, "Home", 7, D("17.86"), 2, 2 / 7, 2, D("4.50")),
        ("85123A", feb, heart, "Home", 0, D("0.00"), 1, None, 1, D("5.00")),
        ("99999", feb, "MYSTERY", None, 1, D("10.00"), 0, 0.0, 0, None),
    ]
    assert actual == [dict(zip(header, row, strict=True)) for row in expected]


def test_product_performance_by_month_without_optional_inputs(product_lines: DataFrame) -> None:
    result = t.product_performance_by_month(product_lines)
    actual = rows_of(result, "stock_code", "month")
    assert [(r["stock_code"], r["description"], r["category"]) for r in actual] == [
        ("22633", None, None),
        ("85123A", "WHITE HANGING HEART", None),
        ("85123A", "WHITE HANGING HEART", None),
        ("99999", "MYSTERY", None),
    ]
    assert {r["review_count"] for r in actual} == {0}
    assert {r["avg_rating"] for r in actual} == {None}
    assert dict(result.dtypes)["avg_rating"] == "decimal(4,2)"


# --- inventory_health ------------------------------------------------------------------------


def test_inventory_days_of_cover_uses_the_28_days_ending_on_the_snapshot(
    spark: SparkSession,
) -> None:
    sales = lines_frame(
        spark,
        [
            line("500000", "A", 1000, "2023-12-31 23:59:59", "1.000", 1),  # day 29 before 28 Jan
            line("500001", "A", 10, "2024-01-01 00:00:00", "1.000", 1),
            line("500002", "A", 4, "2024-01-10 12:00:00", "1.000", 2, "France"),
            line("C500003", "A", -3, "2024-01-10 13:00:00", "1.000", 2, "France"),
            line("500004", "A", 14, "2024-01-28 18:00:00", "1.000", None),
            line("500005", "A", 28, "2024-01-29 09:00:00", "1.000", 3),
            line("500006", "A", 100, "2024-01-30 09:00:00", "1.000", 3),  # after every snapshot
        ],
    )
    d28, d29 = date(2024, 1, 28), date(2024, 1, 29)
    inventory = spark.createDataFrame(
        [(d28, "A", "LON", 20, 0), (d28, "A", "MAN", 10, 0), (d28, "A", "BRS", 10, 5),
         (d29, "A", "LON", 0, 0), (d29, "B", "LON", 0, 10), (d29, "B", "MAN", 0, 0),
         (d29, "C", "LON", 5, None)],
        "snapshot_date date, stock_code string, warehouse string, on_hand int, on_order int",
    )  # fmt: skip
    result = t.inventory_days_of_cover(inventory, sales)
    actual = {
        (r["snapshot_date"], r["stock_code"], r["warehouse"]): (
            r["units_sold_28d"], r["avg_daily_units_28d"], r["days_of_cover"],
            r["is_stock_out"], r["needs_reorder"],
        )
        for r in result.collect()
    }  # fmt: skip
    v29 = 46 / 28  # 4 + 14 + 28: 1 January has left the window
    assert actual == {
        # 10 + 4 + 14 = 28 units over 1-28 January: one a day.
        (d28, "A", "LON"): (28, 1.0, 20.0, False, False),
        (d28, "A", "MAN"): (28, 1.0, 10.0, False, True),  # 10 days of stock position < 14
        (d28, "A", "BRS"): (28, 1.0, 10.0, False, False),  # 10 + 5 on order = 15 days
        (d29, "A", "LON"): (46, v29, 0.0, True, True),
        (d29, "B", "LON"): (0, 0.0, None, True, False),  # out, but 10 on order
        (d29, "B", "MAN"): (0, 0.0, None, True, True),  # out, nothing on order
        (d29, "C", "LON"): (0, 0.0, None, False, False),
    }
    assert result.count() == inventory.count()


# --- customer_rfm ----------------------------------------------------------------------------

RFM_END = date(2024, 3, 31)


def test_customer_rfm_scores_ties_by_customer_id_and_segments(spark: SparkSession) -> None:
    sample = lines_frame(
        spark,
        [
            line("600001", "A", 6, "2024-03-30 10:00:00", "10.000", 101),
            line("600001", "B", 4, "2024-03-30 10:00:00", "10.000", 101),
            line("600002", "A", 5, "2024-03-01 10:00:00", "10.000", 101),
            line("600003", "A", 1, "2024-03-30 23:59:59", "10.000", 102),
            line("600004", "A", 20, "2024-01-15 10:00:00", "10.000", 103),
            line("600005", "A", 30, "2024-02-15 10:00:00", "10.000", 103),
            line("600006", "A", 40, "2024-03-15 10:00:00", "10.000", 103),
            line("C600007", "A", -10, "2024-03-16 10:00:00", "10.000", 103),
            line("600008", "A", 2, "2024-01-01 00:00:00", "10.000", 104),
            line("600009", "A", 2, "2024-01-01 00:00:00", "10.000", 105),
            line("C600010", "A", -1, "2024-02-01 00:00:00", "10.000", 106),  # never bought
            line("600011", "A", 1, "2024-04-01 00:00:00", "10.000", 107),  # after the end
            line("600012", "A", 1, "2024-02-10 00:00:00", "5.000", 108),
            line("600013", "A", 50, "2024-04-05 00:00:00", "10.000", 108),  # after the end
            line("600014", "A", 99, "2024-03-31 00:00:00", "10.000", None),  # a guest
        ],
    )
    actual = rows_of(c.customer_rfm_segments(sample, RFM_END), "customer_id")
    header = ("customer_id", "last_purchase_date", "recency_days", "frequency", "monetary",
              "r_score", "f_score", "m_score", "rfm_score", "segment")  # fmt: skip
    # Six customers: ntile(5) makes groups of 2, 1, 1, 1, 1 in each order.
    # R by recency desc then id: 104, 105 | 108 | 103 | 101 | 102
    # F by frequency then id:    102, 104 | 105 | 108 | 101 | 103
    # M by monetary then id:     108, 102 | 104 | 105 | 101 | 103
    expected = [
        (101, date(2024, 3, 30), 1, 2, D("150.00"), 4, 4, 4, "444", "Champions"),
        (102, date(2024, 3, 30), 1, 1, D("10.00"), 5, 1, 1, "511", "New"),
        (103, date(2024, 3, 15), 16, 3, D("800.00"), 3, 5, 5, "355", "Loyal"),
        (104, date(2024, 1, 1), 90, 1, D("20.00"), 1, 1, 2, "112", "Lost"),
        (105, date(2024, 1, 1), 90, 1, D("20.00"), 1, 2, 3, "123", "Lost"),
        (108, date(2024, 2, 10), 50, 1, D("5.00"), 2, 3, 1, "231", "At Risk"),
    ]
    assert [{k: r[k] for k in header} for r in actual] == [
        dict(zip(header, row, strict=True)) for row in expected
    ]
    assert {r["observation_end"] for r in actual} == {RFM_END}


def test_rfm_segment_table_first_match_wins(spark: SparkSession) -> None:
    expected = {
        "555": "Champions", "545": "Champions", "355": "Loyal", "543": "Loyal",
        "532": "Potential Loyalist", "421": "Potential Loyalist", "511": "New",
        "411": "Promising", "331": "Need Attention", "321": "About To Sleep",
        "311": "About To Sleep", "255": "Can't Lose Them", "144": "Can't Lose Them",
        "153": "At Risk", "131": "At Risk", "121": "Lost", "111": "Lost",
        "011": "Others", "611": "Others",
    }  # fmt: skip
    scores = spark.createDataFrame([(s,) for s in expected], "score string")
    digits = [F.substring("score", i, 1).cast("int") for i in (1, 2, 3)]
    segments = scores.select("score", c.rfm_segment(*digits).alias("segment")).collect()
    assert {r["score"]: r["segment"] for r in segments} == expected


# --- customer_lifetime -----------------------------------------------------------------------


def random_lines(seed: int, n: int = 400) -> list[tuple[Any, ...]]:
    """Order lines over the first half of 2024: several lines per day, guests, cancellations."""
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        at = datetime(2024, 1, 1) + timedelta(minutes=rng.randrange(182 * 24 * 60))
        customer = rng.choice([None, *range(1000, 1040)])
        cancelled = rng.random() < 0.08
        qty = rng.randint(1, 12) * (-1 if cancelled else 1)
        price = f"{rng.randint(0, 20000) / 1000:.3f}"
        invoice = ("C" if cancelled else "") + str(540000 + k // 3)
        rows.append(
            line(
                invoice,
                rng.choice(["A", "B", "POST"]),
                qty,
                at.isoformat(sep=" "),
                price,
                customer,
                rng.choice([UK, "France"]),
            )
        )
    return rows  # fmt: skip


def test_customer_lifetime_summary_matches_the_lifetimes_package(spark: SparkSession) -> None:
    from lifetimes.utils import summary_data_from_transaction_data

    rows = [
        *random_lines(seed=11),
        line("590001", "A", 2, "2024-03-03 10:00:00", "1.500", 2001),  # one purchase day,
        line("590002", "B", 1, "2024-03-03 18:00:00", "2.000", 2001),  # two invoices
        line("590003", "A", 1, "2024-06-16 00:00:00", "1.000", 2002),  # starts after the end
        line("C590004", "A", -1, "2024-02-01 00:00:00", "1.000", 2003),  # only a cancellation
    ]
    end = date(2024, 6, 15)
    result = c.customer_lifetime_summary(lines_frame(spark, rows), end).collect()
    actual = pd.DataFrame([r.asDict() for r in result]).set_index("customer_id").sort_index()

    frame = pd.DataFrame(rows, columns=[c.split()[0] for c in ORDER_LINES.split(", ")])
    sales = frame[frame.customer_id.notna() & ~frame.is_cancellation].copy()
    sales["date"] = pd.to_datetime(sales.invoiced_at.map(lambda x: x.replace(tzinfo=None)))
    sales["amount"] = sales.line_amount.astype(float)
    expected = summary_data_from_transaction_data(
        sales, "customer_id", "date", monetary_value_col="amount",
        observation_period_end=pd.Timestamp(end), freq="D",
    ).sort_index()  # fmt: skip

    assert actual.index.tolist() == [int(i) for i in expected.index]
    for column in ("frequency", "recency", "T"):
        assert actual[column].tolist() == expected[column].astype(int).tolist(), column
    assert (actual.monetary_value - expected.monetary_value.to_numpy()).abs().max() < 1e-9
    assert (actual.frequency == 0).any() and (actual.frequency > 3).any()

    kept = sales[sales.invoiced_at.map(lambda x: x.date()) <= end]
    by_customer = kept.groupby("customer_id")
    assert actual.orders.tolist() == by_customer.invoice_no.nunique().sort_index().tolist()
    revenue = by_customer.line_amount.sum().sort_index()
    assert actual.total_revenue.tolist() == [v.quantize(D("0.01"), ROUND_HALF_UP) for v in revenue]
    assert set(actual.observation_end) == {end}
    assert (actual.last_purchase_date <= end).all()


# --- cohort_retention ------------------------------------------------------------------------


def test_monthly_cohort_retention_fills_months_without_activity(spark: SparkSession) -> None:
    sample = lines_frame(
        spark,
        [
            line("700001", "A", 1, "2024-01-10 10:00:00", "1.000", 1),
            line("700002", "A", 1, "2024-03-10 10:00:00", "1.000", 1),
            line("700003", "A", 1, "2024-01-31 23:59:59", "1.000", 2),
            line("700004", "A", 1, "2024-02-01 00:00:00", "1.000", 3),
            line("700005", "A", 1, "2024-03-02 00:00:00", "1.000", 3),
            line("C700006", "A", -1, "2024-01-05 00:00:00", "1.000", 4),  # not a purchase
            line("700007", "A", 1, "2024-02-20 00:00:00", "1.000", 4),
            line("700008", "A", 1, "2024-03-20 00:00:00", "1.000", 5),
            line("700009", "A", 1, "2024-04-01 00:00:00", "1.000", 5),  # after the end
            line("700010", "A", 1, "2024-01-01 00:00:00", "1.000", None),
        ],
    )
    result = c.monthly_cohort_retention(sample, date(2024, 3, 31))
    actual = [tuple(r) for r in result.orderBy("cohort_month", "months_since").collect()]
    jan, feb, mar = date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)
    assert actual == [
        (jan, 0, 2, 2, 1.0),
        (jan, 1, 2, 0, 0.0),
        (jan, 2, 2, 1, 0.5),
        (feb, 0, 2, 2, 1.0),
        (feb, 1, 2, 1, 0.5),
        (mar, 0, 1, 1, 1.0),
    ]


# --- cross-check on a random sample against DuckDB -------------------------------------------


def test_sales_and_rfm_match_duckdb_on_a_random_sample(spark: SparkSession) -> None:
    rows = random_lines(seed=5)
    end = date(2024, 5, 31)
    sample = lines_frame(spark, rows)
    frame = pd.DataFrame(rows, columns=[c.split()[0] for c in ORDER_LINES.split(", ")])
    frame["invoiced_at"] = frame.invoiced_at.map(lambda x: x.replace(tzinfo=None))
    frame["line_amount"] = frame.line_amount.map(lambda v: int(v * 1000))  # exact thousandths
    con = duckdb.connect()
    con.register("lines", frame)

    expected_sales = con.sql(
        """
        select cast(invoiced_at as date) as sales_date, country,
               count(distinct invoice_no) filter (where not is_cancellation) as orders,
               coalesce(sum(quantity) filter (where not is_cancellation), 0) as units,
               coalesce(sum(line_amount) filter (where not is_cancellation), 0) as gross_milli,
               coalesce(sum(abs(line_amount)) filter (where is_cancellation), 0)
                   as cancelled_milli,
               count(distinct customer_id) filter (where not is_cancellation) as customers
        from lines group by all order by all
        """
    ).fetchall()
    actual_sales = rows_of(t.daily_sales_by_country(sample), "sales_date", "country")
    assert len(actual_sales) == len(expected_sales)
    for got, (day, country, orders, units, gross, cancelled, customers) in zip(
        actual_sales, expected_sales, strict=True
    ):
        assert (got["sales_date"], got["country"]) == (day, country)
        assert (got["orders"], got["units"], got["customers"]) == (orders, units, customers)
        assert got["gross_revenue"] == cents(gross)
        assert got["cancelled_value"] == cents(cancelled)
        assert got["net_revenue"] == cents(gross) - cents(cancelled)

    expected_rfm = con.sql(
        f"""
        with customers as (
            select customer_id,
                   max(cast(invoiced_at as date)) filter (where not is_cancellation) as last_day,
                   count(distinct invoice_no) filter (where not is_cancellation) as frequency,
                   sum(case when is_cancellation then -abs(line_amount) else line_amount end)
                       as net_milli
            from lines
            where customer_id is not null and cast(invoiced_at as date) <= date '{end}'
            group by customer_id
            having last_day is not null
        ),
        scored as (
            -- Cents rounded half away from zero, in integers: the order the mart scores by.
            select *, case when net_milli >= 0 then (net_milli + 5) // 10
                           else -((5 - net_milli) // 10) end as net_cents
            from customers
        )
        select customer_id, date_diff('day', last_day, date '{end}') as recency_days, frequency,
               net_cents,
               ntile(5) over (order by date_diff('day', last_day, date '{end}') desc,
                              customer_id) as r_score,
               ntile(5) over (order by frequency, customer_id) as f_score,
               ntile(5) over (order by net_cents, customer_id) as m_score
        from scored order by customer_id
        """
    ).fetchall()
    actual_rfm = rows_of(c.customer_rfm_segments(sample, end), "customer_id")
    assert [
        (r["customer_id"], r["recency_days"], r["frequency"], r["monetary"], r["r_score"],
         r["f_score"], r["m_score"])
        for r in actual_rfm
    ] == [
        (c, rec, f, D(m) / 100, rs, fs, ms) for c, rec, f, m, rs, fs, ms in expected_rfm
    ]  # fmt: skip


def cents(milli: int) -> Decimal:
    """Exact thousandths to cents, half-up (away from zero), as the marts round money."""
    return (D(milli) / 1000).quantize(D("0.01"), ROUND_HALF_UP)
