"""Gold's marts in DuckDB SQL, from silver Parquet: the DuckDB half of duckdb_equivalent.py.

Each mart is the SQL twin of its Spark transform in jobs/gold (transforms.py for the six marts,
value/ for customer_value): the same grain, columns, rounding (money half away from zero to the
cent, as Spark's HALF_UP) and NULL handling. Written as one Parquet file per mart, sorted by
its grain. The customer-value fits call the project's own fitting code (NumPy/SciPy, as the gold
job does on its driver) on histories DuckDB groups.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

MONEY = "DECIMAL(18,2)"
VELOCITY_WINDOW_DAYS = 28
REORDER_COVER_DAYS = 14
SALE = "NOT is_cancellation"
SEGMENTS = (  # jobs.gold.transforms.RFM_SEGMENTS: first match wins
    ("Champions", (4, 5), (4, 5), (4, 5)),
    ("Loyal", (3, 5), (4, 5), (1, 5)),
    ("Potential Loyalist", (4, 5), (2, 3), (1, 5)),
    ("New", (5, 5), (1, 1), (1, 5)),
    ("Promising", (4, 4), (1, 1), (1, 5)),
    ("Need Attention", (3, 3), (3, 3), (1, 5)),
    ("About To Sleep", (3, 3), (1, 2), (1, 5)),
    ("Can't Lose Them", (1, 2), (4, 5), (4, 5)),
    ("At Risk", (1, 2), (3, 5), (1, 5)),
    ("Lost", (1, 2), (1, 2), (1, 5)),
)


def silver_view(con: duckdb.DuckDBPyConnection, lake: Path, dataset: str, columns: str) -> bool:
    """A view ``s_<dataset>`` over the dataset's silver Parquet; False when it has none."""
    folder = lake / "silver" / dataset
    if not any(folder.rglob("*.parquet")):
        return False
    con.execute(
        f"CREATE OR REPLACE VIEW s_{dataset} AS SELECT {columns} FROM "
        f"read_parquet('{folder}/**/*.parquet', hive_partitioning = false, union_by_name = true)"
    )
    return True


def money(expression: str) -> str:
    return f"CAST(round({expression}, 2) AS {MONEY})"


SALES_DAILY = f"""
WITH totals AS (
  SELECT CAST(invoiced_at AS DATE) AS sales_date, coalesce(country, 'Unknown') AS country,
         count(DISTINCT invoice_no) FILTER (WHERE {SALE}) AS orders,
         coalesce(sum(quantity) FILTER (WHERE {SALE}), 0) AS units,
         sum(line_amount) FILTER (WHERE {SALE}) AS _gross,
         sum(abs(line_amount)) FILTER (WHERE is_cancellation) AS _cancelled,
         count(DISTINCT customer_id) FILTER (WHERE {SALE}) AS customers
  FROM s_order_lines GROUP BY ALL)
SELECT sales_date, country, orders, CAST(units AS BIGINT) AS units,
       {money("coalesce(_gross, 0)")} AS gross_revenue,
       {money("coalesce(_cancelled, 0)")} AS cancelled_value,
       CAST({money("coalesce(_gross, 0)")} - {money("coalesce(_cancelled, 0)")} AS {MONEY})
           AS net_revenue,
       customers,
       -- half away from zero on the exact quotient, in thousandths of a cent's tenth
       CASE WHEN orders > 0 THEN CAST(
           sign(_gross) * ((abs(CAST(_gross * 1000 AS HUGEINT)) + 5 * orders) // (10 * orders))
           / 100 AS {MONEY}) END AS avg_order_value
FROM totals ORDER BY sales_date, country"""

PRODUCT_MONTHLY = f"""
WITH lines AS (
  SELECT *, CAST(date_trunc('month', CAST(invoiced_at AS DATE)) AS DATE) AS month
  FROM s_order_lines WHERE is_product),
monthly AS (
  SELECT stock_code, month,
         CAST(coalesce(sum(quantity) FILTER (WHERE {SALE}), 0) AS BIGINT) AS units_sold,
         {money("coalesce(sum(line_amount) FILTER (WHERE " + SALE + "), 0)")} AS revenue,
         CAST(coalesce(sum(abs(quantity)) FILTER (WHERE is_cancellation), 0) AS BIGINT)
             AS units_returned
  FROM lines GROUP BY ALL),
described AS (
  SELECT stock_code, max({{'t': invoiced_at, 'd': description}}).d AS _line_description
  FROM lines WHERE description IS NOT NULL GROUP BY stock_code),
rated AS (
  SELECT stock_code, CAST(date_trunc('month', CAST(created_at AS DATE)) AS DATE) AS month,
         count(*) AS review_count, CAST(round(avg(rating), 2) AS DECIMAL(4,2)) AS avg_rating
  FROM s_reviews GROUP BY ALL)
SELECT m.stock_code, m.month, coalesce(d._line_description, p.description) AS description,
       p.category, m.units_sold, m.revenue, m.units_returned,
       CASE WHEN m.units_sold > 0 THEN m.units_returned / m.units_sold END AS return_rate,
       CAST(coalesce(r.review_count, 0) AS BIGINT) AS review_count, r.avg_rating
FROM monthly m LEFT JOIN described d USING (stock_code)
LEFT JOIN s_products p USING (stock_code)
LEFT JOIN rated r USING (stock_code, month)
ORDER BY stock_code, month"""

INVENTORY_HEALTH = f"""
WITH daily AS (
  SELECT stock_code, CAST(invoiced_at AS DATE) AS day, sum(quantity) AS units, false AS snap
  FROM s_order_lines WHERE {SALE} GROUP BY ALL),
snapshots AS (
  SELECT DISTINCT stock_code, snapshot_date AS day, 0 AS units, true AS snap FROM s_inventory),
velocity AS (
  SELECT stock_code, day AS snapshot_date, units_sold_28d FROM (
    SELECT *, sum(units) OVER (
                PARTITION BY stock_code ORDER BY date_diff('day', DATE '1970-01-01', day)
                RANGE BETWEEN {VELOCITY_WINDOW_DAYS - 1} PRECEDING AND CURRENT ROW
              ) AS units_sold_28d
    FROM (SELECT * FROM daily UNION ALL SELECT * FROM snapshots))
  WHERE snap),
stocked AS (
  SELECT i.snapshot_date, i.stock_code, i.warehouse, i.on_hand, i.on_order,
         CAST(v.units_sold_28d AS BIGINT) AS units_sold_28d,
         v.units_sold_28d / {float(VELOCITY_WINDOW_DAYS)} AS avg_daily_units_28d
  FROM s_inventory i LEFT JOIN velocity v USING (stock_code, snapshot_date))
SELECT *,
       CASE WHEN avg_daily_units_28d > 0 THEN on_hand / avg_daily_units_28d END AS days_of_cover,
       on_hand <= 0 AS is_stock_out,
       (on_hand <= 0 AND coalesce(on_order, 0) <= 0) OR coalesce(avg_daily_units_28d > 0 AND
         (on_hand + coalesce(on_order, 0)) / avg_daily_units_28d < {REORDER_COVER_DAYS}, false)
           AS needs_reorder
FROM stocked ORDER BY stock_code, warehouse, snapshot_date"""

INVOICE_DAYS = """
CREATE OR REPLACE TEMP TABLE invoice_days AS
SELECT customer_id, CAST(invoiced_at AS DATE) AS sales_date, invoice_no, is_cancellation,
       sum(line_amount) AS amount, sum(abs(line_amount)) AS abs_amount
FROM s_order_lines
WHERE customer_id IS NOT NULL AND CAST(invoiced_at AS DATE) <= DATE '{end}'
GROUP BY ALL"""


def rfm_sql(end: date) -> str:
    def between(column: str, bounds: tuple[int, int]) -> str:
        return f"{column} BETWEEN {bounds[0]} AND {bounds[1]}"

    segment = " ".join(
        f"WHEN {between('r_score', r)} AND {between('f_score', f)} AND {between('m_score', m)} "
        f"THEN '{name.replace(chr(39), chr(39) * 2)}'"
        for name, r, f, m in SEGMENTS
    )
    return f"""
WITH customers AS (
  SELECT customer_id, max(sales_date) FILTER (WHERE {SALE}) AS last_purchase_date,
         count(DISTINCT invoice_no) FILTER (WHERE {SALE}) AS frequency,
         sum(CASE WHEN {SALE} THEN amount ELSE -abs_amount END) AS _net
  FROM invoice_days GROUP BY customer_id),
scored AS (
  SELECT customer_id, last_purchase_date,
         date_diff('day', last_purchase_date, DATE '{end}') AS recency_days, frequency,
         {money("_net")} AS monetary
  FROM customers WHERE last_purchase_date IS NOT NULL),
ranked AS (
  SELECT *, ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_score,
            ntile(5) OVER (ORDER BY frequency, customer_id) AS f_score,
            ntile(5) OVER (ORDER BY monetary, customer_id) AS m_score
  FROM scored)
SELECT *, r_score::VARCHAR || f_score::VARCHAR || m_score::VARCHAR AS rfm_score,
       CASE {segment} ELSE 'Others' END AS segment, DATE '{end}' AS observation_end
FROM ranked ORDER BY customer_id"""


def lifetime_sql(end: date) -> str:
    return f"""
WITH purchases AS (SELECT * FROM invoice_days WHERE {SALE}),
days AS (SELECT customer_id, sales_date, sum(amount) AS day_amount FROM purchases GROUP BY ALL),
per_customer AS (
  SELECT customer_id, min(sales_date) AS first_purchase_date,
         max(sales_date) AS last_purchase_date, CAST(count(*) - 1 AS INTEGER) AS frequency,
         sum(day_amount) AS _all_days, arg_min(day_amount, sales_date) AS _first_day
  FROM days GROUP BY customer_id),
orders AS (
  SELECT customer_id, count(DISTINCT invoice_no) AS orders, sum(amount) AS _revenue
  FROM purchases GROUP BY customer_id)
SELECT customer_id, frequency,
       date_diff('day', first_purchase_date, last_purchase_date) AS recency,
       date_diff('day', first_purchase_date, DATE '{end}') AS T,
       CASE WHEN frequency > 0 THEN CAST(_all_days - _first_day AS DOUBLE) / frequency
            ELSE 0.0 END AS monetary_value,
       first_purchase_date, last_purchase_date, orders, {money("_revenue")} AS total_revenue,
       DATE '{end}' AS observation_end
FROM per_customer JOIN orders USING (customer_id) ORDER BY customer_id"""


def cohort_sql(end: date) -> str:
    return f"""
WITH active AS (
  SELECT DISTINCT customer_id, CAST(date_trunc('month', sales_date) AS DATE) AS activity_month
  FROM invoice_days WHERE {SALE}),
cohorts AS (SELECT customer_id, min(activity_month) AS cohort_month FROM active GROUP BY ALL),
activity AS (
  SELECT cohort_month, date_diff('month', cohort_month, activity_month) AS months_since,
         count(*) AS active_customers
  FROM active JOIN cohorts USING (customer_id) GROUP BY ALL),
grid AS (
  SELECT cohort_month, cohort_size, unnest(range(0, date_diff('month', cohort_month,
         CAST(date_trunc('month', DATE '{end}') AS DATE)) + 1)) AS months_since
  FROM (SELECT cohort_month, count(*) AS cohort_size FROM cohorts GROUP BY ALL))
SELECT cohort_month, CAST(months_since AS INTEGER) AS months_since, cohort_size,
       CAST(coalesce(active_customers, 0) AS BIGINT) AS active_customers,
       coalesce(active_customers, 0) / cohort_size AS retention_rate
FROM grid LEFT JOIN activity USING (cohort_month, months_since)
ORDER BY cohort_month, months_since"""


def customer_value(
    con: duckdb.DuckDBPyConnection, lifetime: str, end: date, out: Path
) -> dict[str, Any]:
    """BG/NBD and Gamma-Gamma fitted by the project's code on DuckDB's grouped histories, and
    every customer's predictions joined back by history (jobs/gold/value/mart.py)."""
    from jobs.gold.value.model import (
        Histories,
        SpendGroups,
        ValueSettings,
        fit_models,
        history_predictions,
    )

    rows = con.sql(
        f"SELECT frequency, recency, T, count(*) FROM {lifetime} GROUP BY ALL"
    ).fetchnumpy()
    spend = con.sql(
        f"SELECT frequency, monetary_value, count(*) FROM {lifetime} "
        "WHERE frequency > 0 AND monetary_value > 0 GROUP BY ALL"
    ).fetchnumpy()
    histories = Histories(*(np.asarray(v, dtype=np.float64) for v in rows.values()))
    if not histories.count.size:
        return {"status": "no customers"}
    groups = SpendGroups(*(np.asarray(v, dtype=np.float64) for v in spend.values()))
    settings = ValueSettings()
    model = fit_models(histories, groups, settings)
    if not model.purchases_ok:
        return {"status": model.status}
    predicted = history_predictions(model, histories, settings.monthly_discount_rate)
    import pandas as pd

    frame = pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in predicted.items()})
    # A prediction that is not a number is unknown (NULL), as the gold job makes it.
    con.register("value_predicted", frame.where(np.isfinite(frame), None))
    con.execute(
        "CREATE OR REPLACE TEMP VIEW value_histories AS SELECT * REPLACE ("
        "CAST(frequency AS INTEGER) AS frequency, CAST(recency AS INTEGER) AS recency, "
        "CAST(T AS INTEGER) AS T) FROM value_predicted"
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE value_spend AS
        SELECT *, {expected_spend_sql(model)} AS expected_avg_spend FROM {lifetime}""")
    con.execute(f"""
        COPY (SELECT customer_id, l.frequency, l.recency, l.T, monetary_value, p_alive,
                     expected_purchases_30d, expected_purchases_90d, expected_purchases_365d,
                     expected_avg_spend,
                     CASE WHEN expected_avg_spend * discounted_purchases_12m IS NOT NULL
                          THEN greatest(expected_avg_spend * discounted_purchases_12m, 0)
                     END AS clv_12m,
                     CASE WHEN p_alive IS NULL THEN 'unknown' WHEN p_alive < 0.3 THEN 'high'
                          WHEN p_alive < 0.7 THEN 'medium' ELSE 'low' END AS churn_risk,
                     '{model.status}' AS model_status, DATE '{end}' AS observation_end
              FROM value_spend l
              LEFT JOIN value_histories h
                ON l.frequency = h.frequency AND l.recency = h.recency AND l.T = h.T
              ORDER BY customer_id)
        TO '{out}' (FORMAT parquet)""")
    return {"status": model.status}


def expected_spend_sql(model: Any) -> str:
    """Gamma-Gamma's expected spend per purchase (jobs/gold/value/mart.py's _expected_spend)."""
    if not model.spend_ok or model.spend is None:
        return "NULL::DOUBLE"
    # Doubles, as the gold job's F.lit: DuckDB reads a bare 885.3476573648721 as DECIMAL(18,13),
    # and that times a frequency of 191 overflows.
    p, q, v = (f"{float(model.spend.params[k])!r}::DOUBLE" for k in ("p", "q", "v"))
    repeat = "frequency > 0 AND monetary_value > 0"
    weight = f"(CASE WHEN {repeat} THEN {p} * frequency / ({p} * frequency + {q} - 1) ELSE 0 END)"
    own = f"(CASE WHEN {repeat} THEN monetary_value ELSE 0 END)"
    return f"(1 - {weight}) * ({v} * {p} / ({q} - 1)) + {weight} * {own}"


def write(con: duckdb.DuckDBPyConnection, sql: str, out: Path) -> int:
    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    row = con.sql(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()
    assert row is not None
    return int(row[0])


def build_gold(
    con: duckdb.DuckDBPyConnection, lake: Path, observation_end: date | None = None
) -> dict[str, Any]:
    """Every mart from the lake's silver Parquet into ``<lake>/gold/<mart>/part-0.parquet``;
    rows per mart."""
    gold = lake / "gold"
    order_columns = (
        "invoice_no, stock_code, description, quantity, invoiced_at, customer_id, country, "
        "is_cancellation, is_product, line_amount"
    )
    if not silver_view(con, lake, "order_lines", order_columns):
        raise SystemExit("no silver order_lines: the benchmark needs all five datasets")
    for dataset, columns in (
        ("products", "stock_code, description, category"),
        ("inventory", "snapshot_date, stock_code, warehouse, on_hand, on_order"),
        ("reviews", "stock_code, rating, created_at"),
    ):
        if not silver_view(con, lake, dataset, columns):
            raise SystemExit(f"no silver {dataset}: the benchmark needs all five datasets")
    last = con.sql("SELECT max(CAST(invoiced_at AS DATE)) FROM s_order_lines").fetchone()
    end: date = observation_end or (last[0] if last else date.today())
    con.execute(INVOICE_DAYS.format(end=end))
    queries = {
        "sales_daily": SALES_DAILY,
        "product_monthly": PRODUCT_MONTHLY,
        "inventory_health": INVENTORY_HEALTH,
        "customer_rfm": rfm_sql(end),
        "customer_lifetime": lifetime_sql(end),
        "cohort_retention": cohort_sql(end),
    }
    rows = {mart: write(con, sql, gold / mart / "part-0.parquet") for mart, sql in queries.items()}
    lifetime = f"read_parquet('{gold / 'customer_lifetime' / 'part-0.parquet'}')"
    (gold / "customer_value").mkdir(parents=True, exist_ok=True)
    value = customer_value(con, lifetime, end, gold / "customer_value" / "part-0.parquet")
    return {"observation_end": str(end), "marts": rows, "customer_value": value}


# --- the comparison -------------------------------------------------------------------------
GOLD_TOTALS = {
    "revenue by day": (
        "sales_daily",
        "SELECT CAST(sales_date AS DATE) AS d, sum(gross_revenue) AS gross, "
        "sum(cancelled_value) AS cancelled, sum(net_revenue) AS net, sum(orders) AS orders, "
        "sum(units) AS units FROM {t} GROUP BY ALL ORDER BY d",
    ),
    "RFM segment counts": (
        "customer_rfm",
        "SELECT segment, count(*) AS customers, sum(monetary) AS monetary, "
        "sum(frequency) AS frequency FROM {t} GROUP BY ALL ORDER BY segment",
    ),
    "RFM scores": (
        "customer_rfm",
        "SELECT customer_id, rfm_score, recency_days FROM {t} ORDER BY customer_id",
    ),
    "product months": (
        "product_monthly",
        "SELECT CAST(month AS DATE) AS m, count(*) AS products, sum(units_sold) AS sold, "
        "sum(revenue) AS revenue, sum(units_returned) AS returned, "
        "sum(review_count) AS reviews, count(category) AS categorised "
        "FROM {t} GROUP BY ALL ORDER BY m",
    ),
    "inventory health": (
        "inventory_health",
        "SELECT count(*) AS rows, sum(units_sold_28d) AS sold_28d, "
        "count(*) FILTER (WHERE needs_reorder) AS reorder, "
        "count(*) FILTER (WHERE is_stock_out) AS stock_outs FROM {t}",
    ),
    "customer lifetime": (
        "customer_lifetime",
        "SELECT count(*) AS customers, sum(frequency) AS frequency, sum(recency) AS recency, "
        "sum(T) AS t, sum(total_revenue) AS revenue, sum(orders) AS orders, "
        "round(sum(monetary_value), 6) AS monetary_value FROM {t}",
    ),
    "cohort retention": (
        "cohort_retention",
        "SELECT CAST(cohort_month AS DATE) AS c, max(cohort_size) AS size, "
        "sum(active_customers) AS active, count(*) AS months FROM {t} GROUP BY ALL ORDER BY c",
    ),
}


def gold_totals(lake: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The totals of ``GOLD_TOTALS`` from a lake's gold Parquet (partitioned or not)."""
    con = duckdb.connect()
    out = {}
    for name, (mart, sql) in GOLD_TOTALS.items():
        files = "'" + str(lake / "gold" / mart) + "/**/*.parquet'"
        table = f"read_parquet({files}, hive_partitioning = true, union_by_name = true)"
        out[name] = con.sql(sql.format(t=table)).fetchall()
    con.close()
    return out


def compare_gold(medallion_lake: Path, duckdb_lake: Path) -> dict[str, bool]:
    """Whether each total of ``GOLD_TOTALS`` is the same in both lakes."""
    ours, theirs = gold_totals(medallion_lake), gold_totals(duckdb_lake)
    return {name: ours[name] == theirs[name] for name in GOLD_TOTALS}
