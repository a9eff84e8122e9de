"""The ``customer_value`` and ``customer_value_model`` marts from the ``customer_lifetime`` mart.

The fit runs on the driver over grouped histories: one row per distinct (frequency, recency, T)
with its customer count, so its cost grows with distinct histories, not customers. Predictions
are made per history on the driver too and joined back to the customers in Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.common import frames
from jobs.common.quality.verdicts import Verdict
from jobs.gold.value.fit import Array
from jobs.gold.value.model import (
    Histories,
    SpendGroups,
    ValueModel,
    ValueSettings,
    fit_models,
    history_predictions,
    model_record,
    verdicts,
)

CUSTOMER_VALUE_GRAIN = ("customer_id",)
MODEL_GRAIN = ("run_id",)
# churn_risk from p_alive: below the first bound "high", below the second "medium", else "low".
CHURN_BANDS = ((0.3, "high"), (0.7, "medium"))
UNKNOWN_RISK = "unknown"

CUSTOMER_VALUE_SCHEMA = (
    "customer_id bigint, frequency int, recency int, T int, monetary_value double, "
    "p_alive double, expected_purchases_30d double, expected_purchases_90d double, "
    "expected_purchases_365d double, expected_avg_spend double, clv_12m double, "
    "churn_risk string, model_status string, observation_end date"
)
MODEL_SCHEMA = (
    "run_id string, observation_end date, fitted_at string, status string, reasons string, "
    "customers bigint, "
    "repeat_customers bigint, bg_nbd_customers bigint, bg_nbd_histories bigint, "
    "bg_nbd_converged boolean, bg_nbd_iterations int, bg_nbd_log_likelihood double, "
    "bg_nbd_penalizer double, bg_nbd_r double, bg_nbd_alpha double, bg_nbd_a double, "
    "bg_nbd_b double, gamma_gamma_customers bigint, gamma_gamma_histories bigint, "
    "gamma_gamma_converged boolean, gamma_gamma_iterations int, "
    "gamma_gamma_log_likelihood double, gamma_gamma_penalizer double, gamma_gamma_p double, "
    "gamma_gamma_q double, gamma_gamma_v double, frequency_monetary_corr double, "
    "monthly_discount_rate double"
)
_PREDICTIONS = (
    "p_alive", "expected_purchases_30d", "expected_purchases_90d", "expected_purchases_365d",
)  # fmt: skip


@dataclass(frozen=True)
class ValueOutcome:
    """The run's customer-value marts, its model and its quality results."""

    customer_value: DataFrame
    model_row: DataFrame
    model: ValueModel | None
    verdicts: list[Verdict]


def collect_histories(lifetime: DataFrame) -> tuple[Histories, SpendGroups]:
    """The grouped inputs of both fits, brought to the driver by one Spark query.

    Customers are grouped by (frequency, recency, T, monetary value), about one row per repeat
    customer and one per (recency, T) of the others, and both fits' groups are summed from
    those in the driver, sorted: the fit sees them in the same order whatever order Spark
    returned them in.
    """
    found = lifetime.groupBy("frequency", "recency", "T", "monetary_value").count().collect()
    table = np.array(
        [
            (row["frequency"], row["recency"], row["T"], row["monetary_value"], row["count"])
            for row in found
        ],
        dtype=np.float64,  # a missing monetary value becomes NaN: no spend to fit
    ).reshape(-1, 5)
    keys, counts = _summed(table[:, :3], table[:, 4])
    histories = Histories(keys[:, 0], keys[:, 1], keys[:, 2], counts)
    spends = table[(table[:, 0] > 0) & (table[:, 3] > 0)]  # NaN > 0 is false
    keys, counts = _summed(spends[:, [0, 3]], spends[:, 4])
    return histories, SpendGroups(keys[:, 0], keys[:, 1], counts)


def _summed(keys: Array, counts: Array) -> tuple[Array, Array]:
    """The distinct rows of ``keys``, sorted, and the ``counts`` of each summed."""
    distinct, where = np.unique(keys, axis=0, return_inverse=True)
    summed = np.bincount(where.reshape(-1), weights=counts, minlength=len(distinct))
    return distinct, summed.astype(np.float64)


def churn_risk(p_alive: Column) -> Column:
    """The churn-risk band of a P(alive); ``unknown`` without a usable model."""
    band = F.when(p_alive.isNull(), F.lit(UNKNOWN_RISK))
    for bound, name in CHURN_BANDS:
        band = band.when(p_alive < bound, F.lit(name))
    return band.otherwise(F.lit("low"))


def customer_value_marts(
    lifetime: DataFrame, run_id: str, observation_end: date, settings: ValueSettings
) -> ValueOutcome:
    """Fit the models on ``customer_lifetime`` and predict every customer's value.

    Parameters
    ----------
    lifetime : DataFrame
        The ``customer_lifetime`` mart (frequency, recency, T, monetary_value per customer).
    run_id : str
        The run, the key of its ``customer_value_model`` row.
    observation_end : date
        The run's observation end.
    settings : ValueSettings
        Discount rate, penalisers, iteration limit, thresholds.

    Returns
    -------
    ValueOutcome
        ``customer_value`` (no prediction when the model is not usable, ``model_status`` says
        why), the run's model row, and the warn-level quality results. Without customers the
        marts have no rows and no fit is attempted.
    """
    spark = lifetime.sparkSession
    histories, spend = collect_histories(lifetime)
    if not histories.count.size:
        return ValueOutcome(
            frames.empty(spark, CUSTOMER_VALUE_SCHEMA),
            frames.empty(spark, MODEL_SCHEMA),
            None,
            [],
        )
    model = fit_models(histories, spend, settings)
    record = model_record(model, settings, run_id, observation_end)
    return ValueOutcome(
        _customers(lifetime, model, histories, settings, observation_end),
        frames.rows(spark, [record], MODEL_SCHEMA),
        model,
        verdicts(model, settings),
    )


def _customers(
    lifetime: DataFrame,
    model: ValueModel,
    histories: Histories,
    settings: ValueSettings,
    observation_end: date,
) -> DataFrame:
    spark = lifetime.sparkSession
    keys = ["frequency", "recency", "T"]
    if model.purchases_ok:
        per_history = _history_frame(spark, model, histories, settings.monthly_discount_rate)
        joined = lifetime.join(F.broadcast(per_history), keys, "left")
    else:
        joined = lifetime.select(
            "*", *(F.lit(None).cast("double").alias(c) for c in (*_PREDICTIONS, "discounted"))
        )
    spend = _expected_spend(model)
    value = spend * F.col("discounted")
    # greatest() skips nulls: without a value there is no CLV, not 0.
    clv = F.when(value.isNotNull(), F.greatest(value, F.lit(0.0)))
    return joined.select(
        "customer_id", *keys, "monetary_value",
        *(F.col(c) for c in _PREDICTIONS),
        spend.alias("expected_avg_spend"),
        clv.alias("clv_12m"),
        churn_risk(F.col("p_alive")).alias("churn_risk"),
        F.lit(model.status).alias("model_status"),
        F.lit(observation_end).alias("observation_end"),
    )  # fmt: skip


def _history_frame(
    spark: SparkSession, model: ValueModel, histories: Histories, monthly_rate: float
) -> DataFrame:
    predictions = history_predictions(model, histories, monthly_rate)
    columns = [histories.frequency, histories.recency, histories.age]
    columns += [predictions[c] for c in (*_PREDICTIONS, "discounted_purchases_12m")]
    rows = [
        # A prediction that is not a number is unknown (NULL), never NaN in a sum.
        (int(f), int(r), int(t), *(float(v) if np.isfinite(v) else None for v in rest))
        for f, r, t, *rest in zip(*columns, strict=True)
    ]
    schema = (
        "frequency int, recency int, T int, "
        + ", ".join(f"{c} double" for c in _PREDICTIONS)
        + ", discounted double"
    )
    return frames.rows(spark, rows, schema)


def _expected_spend(model: ValueModel) -> Column:
    """Gamma-Gamma's expected spend per purchase (``predict.expected_spend`` as a column)."""
    if not model.spend_ok or model.spend is None:
        return F.lit(None).cast("double")
    p, q, v = (model.spend.params[k] for k in ("p", "q", "v"))
    x, m = F.col("frequency").cast("double"), F.col("monetary_value")
    weight = F.when((x > 0) & (m > 0), F.lit(p) * x / (F.lit(p) * x + F.lit(q - 1))).otherwise(
        F.lit(0.0)
    )
    population = F.lit(v * p / (q - 1))
    own = F.when((x > 0) & (m > 0), m).otherwise(F.lit(0.0))
    return (F.lit(1.0) - weight) * population + weight * own


def model_history(
    spark: SparkSession, path: str, exists: bool, this_run: DataFrame, run_id: str
) -> DataFrame:
    """Earlier fits' ``customer_value_model`` rows and this run's: one row per fitting run, this
    run's replacing its own earlier row (so a re-run of a run id changes nothing)."""
    if not exists:
        return this_run
    try:
        earlier = spark.read.parquet(path).where(F.col("run_id") != run_id)
        kept = earlier.select(*(f.split()[0] for f in MODEL_SCHEMA.split(", "))).collect()
    except Exception:  # an unreadable or older layout starts the history anew
        kept = []
    # Collected before the write replaces the files the rows came from.
    return frames.rows(spark, kept, MODEL_SCHEMA).unionByName(this_run)
