"""BG/NBD and Gamma-Gamma fits and predictions against the lifetimes package, on generated data.

lifetimes 0.11.3 is the independent reference: its fitters are fitted on the same customers (one
row each, not grouped) with the same penaliser, and its own prediction methods give the expected
numbers. Only this test imports it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad

from jobs.gold.value import predict
from jobs.gold.value.fit import (
    bg_nbd_objective,
    fit_bg_nbd,
    fit_gamma_gamma,
    gamma_gamma_objective,
)
from jobs.gold.value.model import (
    Histories,
    SpendGroups,
    ValueSettings,
    fit_models,
    history_predictions,
    verdicts,
)

lifetimes = pytest.importorskip("lifetimes")

REL = 1e-3


def generated_summary(seed: int, size: int = 1500) -> pd.DataFrame:
    """Customers drawn from a BG/NBD population with gamma-distributed spend, in whole days."""
    from lifetimes.generate_data import beta_geometric_nbd_model

    rng = np.random.default_rng(seed)
    np.random.seed(seed)  # lifetimes' generator draws from numpy's global state
    age = rng.integers(20, 366, size).astype(float)
    drawn = beta_geometric_nbd_model(365, 0.3, 25.0, 0.7, 3.0, size=size)
    summary = pd.DataFrame({"frequency": drawn["frequency"].astype(int).to_numpy(), "T": age})
    # Scale recency into each customer's own age, in whole days, 0 without a repeat purchase.
    recency = np.floor(drawn["recency"].to_numpy() / 365 * age)
    summary["recency"] = np.where(summary["frequency"] > 0, recency, 0.0)
    spend = rng.gamma(4.0, 6.0, size) * (1 + rng.gamma(2.0, 0.1, size))
    summary["monetary_value"] = np.where(summary["frequency"] > 0, spend, 0.0)
    return summary


def grouped(summary: pd.DataFrame) -> tuple[Histories, SpendGroups]:
    h = summary.groupby(["frequency", "recency", "T"]).size().reset_index(name="n")
    repeat = summary[(summary.frequency > 0) & (summary.monetary_value > 0)]
    s = repeat.groupby(["frequency", "monetary_value"]).size().reset_index(name="n")

    def f(frame: pd.DataFrame, column: str) -> np.ndarray:
        return frame[column].to_numpy(dtype=np.float64)

    return (
        Histories(f(h, "frequency"), f(h, "recency"), f(h, "T"), f(h, "n")),
        SpendGroups(f(s, "frequency"), f(s, "monetary_value"), f(s, "n")),
    )


def assert_close(got: np.ndarray | float, expected: np.ndarray | float, what: str) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    rel = np.abs(got - expected) / np.maximum(np.abs(expected), 1e-300)
    assert np.all(rel < REL), f"{what}: worst relative difference {rel.max():.2e}"


@pytest.mark.parametrize("penalizer", [0.0, 0.001, 0.1])
def test_bg_nbd_fit_equals_lifetimes(penalizer: float) -> None:
    summary = generated_summary(seed=11)
    histories, _ = grouped(summary)
    assert len(histories.count) < len(summary)  # grouped: fewer histories than customers
    fit = fit_bg_nbd(
        histories.frequency, histories.recency, histories.age, histories.count, penalizer
    )
    reference = lifetimes.BetaGeoFitter(penalizer_coef=penalizer).fit(
        summary["frequency"], summary["recency"], summary["T"]
    )
    assert fit.ok, fit.reason
    for name in ("r", "alpha", "a", "b"):
        assert_close(fit.params[name], reference.params_[name], name)
    assert fit.customers == len(summary)
    # The log-likelihood reported is the unpenalised total in days: lifetimes' own function of
    # the same parameters on the unscaled data, without the penaliser, times the customers.
    mean_nll = lifetimes.BetaGeoFitter._negative_log_likelihood(
        np.log(reference.params_[["r", "alpha", "a", "b"]].to_numpy(float)),
        summary["frequency"].to_numpy(), summary["recency"].to_numpy(),
        summary["T"].to_numpy(), np.ones(len(summary)), 0.0,
    )  # fmt: skip
    assert_close(fit.log_likelihood, -mean_nll * len(summary), "log-likelihood")


@pytest.mark.parametrize("penalizer", [0.0, 0.001])
def test_gamma_gamma_fit_equals_lifetimes(penalizer: float) -> None:
    summary = generated_summary(seed=12)
    _, spend = grouped(summary)
    fit = fit_gamma_gamma(spend.frequency, spend.monetary, spend.count, penalizer)
    repeat = summary[summary.frequency > 0]
    reference = lifetimes.GammaGammaFitter(penalizer_coef=penalizer).fit(
        repeat["frequency"], repeat["monetary_value"]
    )
    assert fit.ok, fit.reason
    for name in ("p", "q", "v"):
        assert_close(fit.params[name], reference.params_[name], name)
    mean_nll = lifetimes.GammaGammaFitter._negative_log_likelihood(
        np.log(reference.params_[["p", "q", "v"]].to_numpy(float)),
        repeat["frequency"].to_numpy(float), repeat["monetary_value"].to_numpy(),
        np.ones(len(repeat)), 0.0,
    )  # fmt: skip
    assert_close(fit.log_likelihood, -mean_nll * len(repeat), "log-likelihood")


def test_every_prediction_equals_lifetimes_for_every_customer() -> None:
    summary = generated_summary(seed=13)
    histories, spend = grouped(summary)
    settings = ValueSettings(monthly_discount_rate=0.015)
    model = fit_models(histories, spend, settings)
    assert model.status == "ok", model.reasons
    assert model.purchases is not None and model.spend is not None
    bgf = lifetimes.BetaGeoFitter(penalizer_coef=settings.bg_nbd_penalizer).fit(
        summary["frequency"], summary["recency"], summary["T"]
    )
    repeat = summary[summary.frequency > 0]
    ggf = lifetimes.GammaGammaFitter(penalizer_coef=settings.gamma_gamma_penalizer).fit(
        repeat["frequency"], repeat["monetary_value"]
    )
    # Each customer's predictions: the per-history table joined back to the customers.
    table = pd.DataFrame(history_predictions(model, histories, settings.monthly_discount_rate))
    customers = summary.merge(table, on=["frequency", "recency", "T"], how="left")
    x, t_x, big_t = customers["frequency"], customers["recency"], customers["T"]
    assert_close(customers["p_alive"], bgf.conditional_probability_alive(x, t_x, big_t), "p_alive")
    for days in (30, 90, 365):
        expected = bgf.conditional_expected_number_of_purchases_up_to_time(days, x, t_x, big_t)
        assert_close(customers[f"expected_purchases_{days}d"], expected, f"{days} days")
    spend_here = predict.expected_spend(model.spend.params, x.to_numpy(float),
                                        customers["monetary_value"].to_numpy())  # fmt: skip
    reference_spend = ggf.conditional_expected_average_profit(x, customers["monetary_value"])
    assert_close(spend_here, reference_spend, "expected average spend")
    clv = ggf.customer_lifetime_value(
        bgf, x, t_x, big_t, customers["monetary_value"], time=12,
        discount_rate=settings.monthly_discount_rate, freq="D",
    )  # fmt: skip
    assert_close(spend_here * customers["discounted_purchases_12m"], clv, "12-month CLV")


def test_known_properties_of_the_predictions() -> None:
    summary = generated_summary(seed=14)
    histories, spend = grouped(summary)
    model = fit_models(histories, spend, ValueSettings())
    table = history_predictions(model, histories, 0.01)
    no_repeat = table["frequency"] == 0
    assert no_repeat.any() and np.all(table["p_alive"][no_repeat] == 1.0)
    assert np.all((table["p_alive"] > 0) & (table["p_alive"] <= 1))
    assert np.all(table["expected_purchases_30d"] <= table["expected_purchases_90d"])
    assert np.all(table["expected_purchases_90d"] <= table["expected_purchases_365d"])
    assert np.all(table["discounted_purchases_12m"] >= 0)
    # Discounting lowers the value; a zero rate gives the plain 360-day expectation.
    undiscounted = history_predictions(model, histories, 0.0)["discounted_purchases_12m"]
    assert np.all(table["discounted_purchases_12m"] <= undiscounted + 1e-12)
    assert model.purchases is not None
    assert_close(
        undiscounted,
        predict.expected_purchases(
            model.purchases.params, 360, histories.frequency, histories.recency, histories.age
        ),
        "undiscounted 12 months",
    )


@pytest.mark.parametrize("which", ["bg_nbd", "gamma_gamma"])
def test_the_analytic_gradient_is_the_objectives_derivative(which: str) -> None:
    summary = generated_summary(seed=15, size=300)
    histories, spend = grouped(summary)
    objective: Callable[..., tuple[float, np.ndarray]]
    if which == "bg_nbd":
        objective, size = bg_nbd_objective, 4
        args: tuple = (histories.frequency, histories.recency / 365, histories.age / 365,
                       histories.count, 0.01)  # fmt: skip
    else:
        objective, size = gamma_gamma_objective, 3
        args = (spend.frequency, spend.monetary, spend.count, 0.01)

    def value(p: np.ndarray) -> float:
        return objective(p, *args)[0]

    def gradient(p: np.ndarray) -> np.ndarray:
        return objective(p, *args)[1]

    rng = np.random.default_rng(1)
    for point in rng.normal(0, 0.5, (3, size)):
        error = check_grad(value, gradient, point)
        assert error < 1e-5 * max(1.0, float(np.linalg.norm(gradient(point))))


def test_too_few_repeat_customers_is_a_warning_with_the_reason() -> None:
    summary = generated_summary(seed=16, size=60)
    summary.loc[summary.index[5:], ["frequency", "recency", "monetary_value"]] = 0
    histories, spend = grouped(summary)
    model = fit_models(histories, spend, ValueSettings())
    assert model.status == "failed"
    repeat = int((summary.frequency > 0).sum())
    assert model.reasons["bg_nbd"] == f"too few repeat customers: {repeat} (at least 10 needed)"
    results = {v.rule_id: v for v in verdicts(model, ValueSettings())}
    assert results["customer_value_bg_nbd_fit"].status == "warn"
    assert results["customer_value_bg_nbd_fit"].severity == "warn"
    assert results["customer_value_bg_nbd_fit"].message == model.reasons["bg_nbd"]


def test_every_first_purchase_on_the_last_day_is_degenerate() -> None:
    ones = np.ones(3)
    histories = Histories(np.zeros(3), np.zeros(3), np.zeros(3), ones * 20)
    model = fit_models(histories, SpendGroups(ones, ones, ones), ValueSettings())
    assert model.status == "failed"
    assert model.reasons["bg_nbd"].startswith("degenerate data")


def test_a_fit_stopped_before_convergence_is_not_usable_and_says_why() -> None:
    summary = generated_summary(seed=17)
    histories, spend = grouped(summary)
    model = fit_models(histories, spend, ValueSettings(max_iterations=1))
    assert model.status == "failed"
    assert model.purchases is not None and not model.purchases.converged
    assert "BG/NBD fit did not converge" in model.reasons["bg_nbd"]
    statuses = {v.rule_id: v.status for v in verdicts(model, ValueSettings())}
    assert statuses["customer_value_bg_nbd_fit"] == "warn"


def test_correlated_frequency_and_spend_warns() -> None:
    summary = generated_summary(seed=18)
    repeat = summary.frequency > 0
    summary.loc[repeat, "monetary_value"] = 5.0 * summary.loc[repeat, "frequency"] + 1.0
    histories, spend = grouped(summary)
    model = fit_models(histories, spend, ValueSettings())
    assert model.correlation is not None and model.correlation > 0.99
    check = {v.rule_id: v for v in verdicts(model, ValueSettings())}[
        "customer_value_spend_independence"
    ]
    assert check.status == "warn" and check.threshold == 0.3
    assert "spend_independence" in model.reasons
    independent = fit_models(*grouped(generated_summary(seed=18)), ValueSettings())
    assert independent.correlation is not None and abs(independent.correlation) < 0.3
    assert "spend_independence" not in independent.reasons


def test_where_lifetimes_answers_nan_the_expectation_is_the_papers_formula() -> None:
    # With a + b < 1 (as the pipeline's generated customers give) 2F1(r, b; a + b - 1; z) is
    # negative for customers without a repeat purchase, and lifetimes' log of it is NaN. Here
    # the same expression, equation (10) of Fader, Hardie & Lee (2005), is evaluated with
    # mpmath's 2F1 instead, at 50 digits.
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    params = {"r": 1.321085, "alpha": 106.060209, "a": 0.017836, "b": 0.147871}
    x, t_x, big_t = (
        np.array([0.0, 0.0, 1.0]),
        np.array([0.0, 0.0, 40.0]),
        np.array([11.0, 300.0, 300.0]),
    )
    for t in (30, 90, 365):
        got = predict.expected_purchases(params, t, x, t_x, big_t)
        r, alpha, a, b = (mpmath.mpf(params[k]) for k in ("r", "alpha", "a", "b"))
        for i in range(len(x)):
            xi, txi, ti = (mpmath.mpf(float(v[i])) for v in (x, t_x, big_t))
            hyp = mpmath.hyp2f1(r + xi, b + xi, a + b + xi - 1, t / (alpha + ti + t))
            first = (a + b + xi - 1) / (a - 1)
            second = 1 - hyp * ((alpha + ti) / (alpha + ti + t)) ** (r + xi)
            odds = (a / (b + xi - 1)) * ((alpha + ti) / (alpha + txi)) ** (r + xi) if xi else 0
            expected = float(first * second / (1 + odds))
            assert np.isfinite(got[i]) and abs(got[i] - expected) <= 1e-9 * abs(expected), (t, i)
        reference = lifetimes.BetaGeoFitter()
        reference.params_ = pd.Series(params)
        with np.errstate(all="ignore"):
            theirs = reference.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, big_t)
        finite = np.isfinite(theirs)
        assert_close(got[finite], theirs[finite], "where lifetimes is finite")
    assert predict.expected_purchases(params, 365, x[:1], t_x[:1], big_t[:1])[0] > 0
