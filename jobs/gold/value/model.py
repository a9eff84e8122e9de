"""One run's customer-value model: when to fit, both fits, the checks and the per-run record.

Pure Python and numpy over the grouped histories the driver collected; no Spark here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from jobs.common.quality.verdicts import Verdict
from jobs.gold.value import predict
from jobs.gold.value.fit import (
    BG_NBD_PARAMS,
    DEFAULT_PENALIZER,
    GAMMA_GAMMA_PARAMS,
    Array,
    Fit,
    fit_bg_nbd,
    fit_gamma_gamma,
)

# lifetimes' default monthly discount rate (about 12.7% a year).
DEFAULT_MONTHLY_DISCOUNT_RATE = 0.01
# Fewer repeat customers than this and a fit says more about the optimiser than the customers.
MIN_REPEAT_CUSTOMERS = 10
# Gamma-Gamma assumes spend per purchase independent of the purchase count; above this absolute
# Pearson correlation between frequency and monetary value the assumption is in doubt.
MAX_ABS_CORRELATION = 0.3
# An L2 penaliser on v, which is in money units, would shrink the mean spend towards zero:
# the Gamma-Gamma fit is unpenalised unless asked (lifetimes' default, 0).
DEFAULT_SPEND_PENALIZER = 0.0


@dataclass(frozen=True)
class ValueSettings:
    """The run's choices: discount rate, penalisers, iteration limit, the checks' thresholds."""

    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT_RATE
    bg_nbd_penalizer: float = DEFAULT_PENALIZER
    gamma_gamma_penalizer: float = DEFAULT_SPEND_PENALIZER
    max_iterations: int | None = None
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS
    max_abs_correlation: float = MAX_ABS_CORRELATION


@dataclass(frozen=True)
class Histories:
    """Distinct (frequency, recency, T) histories with their customer counts."""

    frequency: Array
    recency: Array
    age: Array
    count: Array


@dataclass(frozen=True)
class SpendGroups:
    """Distinct (frequency, monetary value) of repeat customers with a positive mean spend."""

    frequency: Array
    monetary: Array
    count: Array


@dataclass(frozen=True)
class ValueModel:
    """Both fits of a run (None when not attempted), the correlation, and why not usable."""

    purchases: Fit | None
    spend: Fit | None
    correlation: float | None
    customers: int
    repeat_customers: int
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def purchases_ok(self) -> bool:
        return self.purchases is not None and self.purchases.ok

    @property
    def spend_ok(self) -> bool:
        return self.purchases_ok and self.spend is not None and self.spend.ok

    @property
    def status(self) -> str:
        """``ok``, ``no_spend_model`` (p_alive and purchases only) or ``failed``."""
        if not self.purchases_ok:
            return "failed"
        return "ok" if self.spend_ok else "no_spend_model"


def weighted_correlation(x: Array, y: Array, weights: Array) -> float | None:
    """Pearson correlation of x and y with each pair counted ``weights`` times (None when
    either does not vary)."""
    if weights.sum() < 2:
        return None
    mx, my = np.average(x, weights=weights), np.average(y, weights=weights)
    cov = np.average((x - mx) * (y - my), weights=weights)
    vx, vy = np.average((x - mx) ** 2, weights=weights), np.average((y - my) ** 2, weights=weights)
    if vx <= 0 or vy <= 0:
        return None
    return float(cov / np.sqrt(vx * vy))


def fit_models(histories: Histories, spend: SpendGroups, settings: ValueSettings) -> ValueModel:
    """Fit BG/NBD on every history and Gamma-Gamma on the repeat spenders, unless degenerate.

    Parameters
    ----------
    histories : Histories
        Every customer's (frequency, recency, T), grouped.
    spend : SpendGroups
        Repeat customers with a positive mean spend, grouped by (frequency, monetary value).
    settings : ValueSettings
        Penalisers, iteration limit and thresholds.

    Returns
    -------
    ValueModel
        The fits; ``reasons`` says, per model, why it was not fitted or is not usable.
    """
    customers = int(histories.count.sum())
    repeat = int(histories.count[histories.frequency > 0].sum())
    reasons: dict[str, str] = {}
    purchases = spend_fit = None
    corr = weighted_correlation(spend.frequency, spend.monetary, spend.count)
    need = settings.min_repeat_customers
    if customers and float(histories.age.max()) <= 0:
        reasons["bg_nbd"] = "degenerate data: every customer's first purchase is on the last day"
    elif repeat < need:
        reasons["bg_nbd"] = f"too few repeat customers: {repeat} (at least {need} needed)"
    else:
        purchases = fit_bg_nbd(
            histories.frequency, histories.recency, histories.age, histories.count,
            settings.bg_nbd_penalizer, settings.max_iterations,
        )  # fmt: skip
        if purchases.reason:
            reasons["bg_nbd"] = purchases.reason
    spenders = int(spend.count.sum())
    if spenders < need:
        reasons["gamma_gamma"] = (
            f"too few repeat customers with a positive spend: {spenders} (at least {need} needed)"
        )
    else:
        spend_fit = fit_gamma_gamma(
            spend.frequency, spend.monetary, spend.count, settings.gamma_gamma_penalizer,
            settings.max_iterations,
        )  # fmt: skip
        if spend_fit.reason:
            reasons["gamma_gamma"] = spend_fit.reason
    limit = settings.max_abs_correlation
    if corr is None or abs(corr) > limit:
        shown = "undefined" if corr is None else f"{corr:.3f}"
        reasons["spend_independence"] = (
            f"corr(frequency, monetary_value) = {shown}, not within +/-{limit}"
        )
    return ValueModel(purchases, spend_fit, corr, customers, repeat, reasons)


def history_predictions(
    model: ValueModel, histories: Histories, monthly_rate: float
) -> dict[str, Array]:
    """P(alive), expected purchases in 30, 90 and 365 days and the discounted 12-month purchase
    count of every history (only when the purchase model is usable)."""
    assert model.purchases is not None and model.purchases.ok
    params = model.purchases.params
    x, t_x, age = histories.frequency, histories.recency, histories.age
    return {
        "frequency": x,
        "recency": t_x,
        "T": age,
        "p_alive": predict.p_alive(params, x, t_x, age),
        "expected_purchases_30d": predict.expected_purchases(params, 30, x, t_x, age),
        "expected_purchases_90d": predict.expected_purchases(params, 90, x, t_x, age),
        "expected_purchases_365d": predict.expected_purchases(params, 365, x, t_x, age),
        "discounted_purchases_12m": predict.discounted_purchases(params, x, t_x, age, monthly_rate),
    }


def verdicts(model: ValueModel, settings: ValueSettings) -> list[Verdict]:
    """The run's quality results for the model: each fit, and Gamma-Gamma's independence
    assumption. All warn-level: a model that cannot be fitted never fails the run."""
    results = []
    for rule, fit, target in (
        ("customer_value_bg_nbd_fit", model.purchases, "bg_nbd"),
        ("customer_value_gamma_gamma_fit", model.spend, "gamma_gamma"),
    ):
        reason = model.reasons.get(target, "")
        checked = fit.customers if fit is not None else model.customers
        message = reason or (
            f"converged in {fit.iterations} iterations, log-likelihood {fit.log_likelihood:.6g}"
            if fit is not None
            else ""
        )
        results.append(
            Verdict(
                rule,
                "model_fit",
                "dataset",
                "warn",
                target,
                checked,
                checked if reason else 0,
                None,
                "warn" if reason else "pass",
                message,
            )
        )
    results.append(_independence(model, settings.max_abs_correlation))
    return results


def _independence(model: ValueModel, limit: float) -> Verdict:
    spenders = model.spend.customers if model.spend is not None else 0
    corr = model.correlation
    ok = corr is not None and abs(corr) <= limit
    if corr is None:
        message = "frequency and monetary value do not both vary: correlation undefined"
    else:
        message = (
            f"corr(frequency, monetary_value) = {corr:.3f} over {spenders} repeat customers, "
            f"{'within' if ok else 'beyond'} +/-{limit}: Gamma-Gamma assumes about 0"
        )
    return Verdict(
        "customer_value_spend_independence", "model_assumption", "dataset", "warn",
        "gamma_gamma", spenders, 0 if ok else spenders, limit, "pass" if ok else "warn", message,
    )  # fmt: skip


def _fit_columns(model: str, fit: Fit | None, penalizer: float) -> dict[str, Any]:
    """One model's fit columns of ``customer_value_model``, ``<model>_customers`` to
    ``<model>_penalizer`` (None, and not converged, when the model was not fitted)."""
    return {
        f"{model}_customers": fit.customers if fit else None,
        f"{model}_histories": fit.histories if fit else None,
        f"{model}_converged": fit.converged if fit else False,
        f"{model}_iterations": fit.iterations if fit else None,
        f"{model}_log_likelihood": fit.log_likelihood if fit else None,
        f"{model}_penalizer": penalizer,
    }


def model_record(
    model: ValueModel, settings: ValueSettings, run_id: str, observation_end: Any
) -> dict[str, Any]:
    """The run's row of ``customer_value_model``."""
    bg, gg = model.purchases, model.spend
    record: dict[str, Any] = {
        "run_id": run_id,
        "observation_end": observation_end,
        # When the run fitted: what orders the runs (run ids do not sort by time).
        "fitted_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds"),
        "status": model.status,
        "reasons": "; ".join(f"{k}: {v}" for k, v in sorted(model.reasons.items())) or None,
        "customers": model.customers,
        "repeat_customers": model.repeat_customers,
        **_fit_columns("bg_nbd", model.purchases, settings.bg_nbd_penalizer),
        **_fit_columns("gamma_gamma", model.spend, settings.gamma_gamma_penalizer),
        "frequency_monetary_corr": model.correlation,
        "monthly_discount_rate": settings.monthly_discount_rate,
    }
    for name in BG_NBD_PARAMS:
        record[f"bg_nbd_{name}"] = bg.params[name] if bg else None
    for name in GAMMA_GAMMA_PARAMS:
        record[f"gamma_gamma_{name}"] = gg.params[name] if gg else None
    return record
