"""Maximum-likelihood fits of BG/NBD and Gamma-Gamma on the driver, over grouped histories.

BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science
24(2); log-likelihood as in section 7 and http://brucehardie.com/notes/004/. Gamma-Gamma: Fader &
Hardie (2013), "The Gamma-Gamma Model of Monetary Value", http://brucehardie.com/notes/025/.

The objective is the one ``lifetimes`` 0.11.3 minimises, so a fit here and a fit there agree:
the weighted mean negative log-likelihood per customer plus an L2 penaliser on the parameters,
``penalizer * sum(params ** 2)``, minimised over the logarithms of the parameters with BFGS from
``log(params) = 0.1``. BG/NBD times are scaled so the largest T is 1 while fitting (the
penaliser acts on the scaled alpha), and alpha is scaled back afterwards. The gradients are
analytic (digamma), not numerical, so the optimiser stops where lifetimes' autograd one does.

Runs on Glue 5.1 with the modules Glue provides: numpy and scipy are in the list of "Python
modules already provided in AWS Glue" (Glue 5.0 and later),
https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html#glue-modules-provided
so nothing is shipped with --additional-python-modules for this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize
from scipy.special import digamma, gammaln

Array = NDArray[np.float64]

# The L2 penaliser of both fits; lifetimes' documentation suggests a small one (0.001 to 0.1)
# when a fit struggles. 0.001 keeps the estimates close to the unpenalised ones on real data
# while giving the optimiser a minimum on degenerate data.
DEFAULT_PENALIZER = 0.001
TOLERANCE = 1e-7
START = 0.1  # every log-parameter starts here, as in lifetimes
BG_NBD_PARAMS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMS = ("p", "q", "v")


@dataclass(frozen=True)
class Fit:
    """A fitted model: its parameters, the log-likelihood, and whether the optimiser converged.

    ``log_likelihood`` is the unpenalised total over the customers fitted (the weights' sum);
    ``reason`` says why a fit is not usable (empty when it is).
    """

    params: dict[str, float]
    log_likelihood: float
    converged: bool
    iterations: int
    customers: int
    histories: int
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.converged and not self.reason


def bg_nbd_terms(
    log_params: Array, x: Array, t_x: Array, big_t: Array
) -> tuple[Array, Array, Array, Array, Array]:
    """Per-history BG/NBD log-likelihood and its derivatives by r, alpha, a and b."""
    r, alpha, a, b = np.exp(log_params)
    repeat = x > 0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + big_t)
    a4 = np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(t_x + alpha)
    a4 = np.where(repeat, a4, -np.inf)
    top = np.maximum(a3, a4)
    e3, e4 = np.exp(a3 - top), np.exp(a4 - top)
    w3, w4 = e3 / (e3 + e4), e4 / (e3 + e4)
    ll = a1 + a2 + np.log(e3 + e4) + top
    d_r = digamma(r + x) - digamma(r) + np.log(alpha) - w3 * np.log(alpha + big_t)
    d_r = d_r - w4 * np.log(t_x + alpha)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + big_t) - w4 * (r + x) / (t_x + alpha)
    d_a = digamma(a + b) - digamma(a + b + x) + w4 / a
    d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x)
    d_b = d_b - w4 / (b + np.maximum(x, 1) - 1)
    return ll, d_r, d_alpha, d_a, d_b


def bg_nbd_objective(
    log_params: Array, x: Array, t_x: Array, big_t: Array, weights: Array, penalizer: float
) -> tuple[float, Array]:
    """lifetimes' BG/NBD objective (mean negative log-likelihood + L2) and its gradient."""
    ll, *derivatives = bg_nbd_terms(log_params, x, t_x, big_t)
    return _objective(np.exp(log_params), ll, derivatives, weights, penalizer)


def gamma_gamma_terms(log_params: Array, x: Array, m: Array) -> tuple[Array, Array, Array, Array]:
    """Per-history Gamma-Gamma log-likelihood and its derivatives by p, q and v."""
    p, q, v = np.exp(log_params)
    ll = (
        gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
        + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v)
    )  # fmt: skip
    d_p = x * (digamma(p * x + q) - digamma(p * x) + np.log(m) + np.log(x) - np.log(x * m + v))
    d_q = digamma(p * x + q) - digamma(q) + np.log(v) - np.log(x * m + v)
    d_v = q / v - (p * x + q) / (x * m + v)
    return ll, d_p, d_q, d_v


def gamma_gamma_objective(
    log_params: Array, x: Array, m: Array, weights: Array, penalizer: float
) -> tuple[float, Array]:
    """lifetimes' Gamma-Gamma objective (mean negative log-likelihood + L2) and its gradient."""
    ll, *derivatives = gamma_gamma_terms(log_params, x, m)
    return _objective(np.exp(log_params), ll, derivatives, weights, penalizer)


def _objective(
    params: Array, ll: Array, derivatives: list[Array], weights: Array, penalizer: float
) -> tuple[float, Array]:
    total = weights.sum()
    value = -float(np.dot(weights, ll)) / total + penalizer * float(np.sum(params**2))
    # Chain rule through params = exp(log_params): d/dlog(theta) = theta * d/dtheta.
    grad = np.array(
        [
            theta * (-float(np.dot(weights, d)) / total + 2 * penalizer * theta)
            for theta, d in zip(params, derivatives, strict=True)
        ]
    )
    return value, grad


def fit_bg_nbd(
    frequency: Array,
    recency: Array,
    age: Array,
    weights: Array,
    penalizer: float,
    max_iterations: int | None = None,
) -> Fit:
    """Fit BG/NBD to grouped histories (frequency, recency, T) with a count each.

    Parameters
    ----------
    frequency, recency, age : numpy arrays
        One entry per distinct history: repeat purchase days, days from the first to the last
        purchase, days from the first purchase to the observation end (T).
    weights : numpy array
        Customers with each history.
    penalizer : float
        The L2 penaliser's coefficient.
    max_iterations : int, optional
        BFGS's iteration limit (scipy's default, 200 per parameter, when None).

    Returns
    -------
    Fit
        ``r``, ``alpha`` (per day), ``a``, ``b``; not ok (with the reason) when the optimiser
        did not converge or the estimates are not finite.
    """
    scale = 1.0 / float(age.max())
    args = (frequency, recency * scale, age * scale, weights, penalizer)
    result = _minimize(bg_nbd_objective, 4, args, max_iterations)
    params = np.exp(result.x)
    params[1] /= scale
    # The log-likelihood of the data in days, as reported (not the scaled one minimised).
    with np.errstate(all="ignore"):
        ll = float(np.dot(weights, bg_nbd_terms(np.log(params), frequency, recency, age)[0]))
    return _fit_result(BG_NBD_PARAMS, params, ll, result, weights, "BG/NBD")


def fit_gamma_gamma(
    frequency: Array,
    monetary: Array,
    weights: Array,
    penalizer: float,
    max_iterations: int | None = None,
) -> Fit:
    """Fit Gamma-Gamma to grouped repeat customers (frequency > 0, mean spend > 0).

    Returns
    -------
    Fit
        ``p``, ``q``, ``v``; not ok when the optimiser did not converge, the estimates are not
        finite, or ``q <= 1`` (the population mean spend ``p v / (q - 1)`` is then undefined).
    """
    args = (frequency, monetary, weights, penalizer)
    result = _minimize(gamma_gamma_objective, 3, args, max_iterations)
    params = np.exp(result.x)
    ll = float(np.dot(weights, gamma_gamma_terms(result.x, frequency, monetary)[0]))
    fit = _fit_result(GAMMA_GAMMA_PARAMS, params, ll, result, weights, "Gamma-Gamma")
    if fit.ok and fit.params["q"] <= 1:
        reason = f"Gamma-Gamma q = {fit.params['q']:.4g} <= 1: no finite mean spend"
        return replace(fit, reason=reason)
    return fit


def _minimize(
    objective: Callable[..., tuple[float, Array]],
    size: int,
    args: tuple[object, ...],
    max_iterations: int | None,
) -> OptimizeResult:
    # BFGS is what scipy picks for lifetimes (no bounds), with lifetimes' start and tolerance.
    options = {"maxiter": max_iterations} if max_iterations else {}
    with np.errstate(all="ignore"):  # a trial step may overflow; BFGS then steps back
        return minimize(
            objective, START * np.ones(size), args=args, jac=True, method="BFGS", tol=TOLERANCE,
            options=options,
        )  # fmt: skip


def _fit_result(
    names: tuple[str, ...],
    params: Array,
    ll: float,
    result: OptimizeResult,
    weights: Array,
    model: str,
) -> Fit:
    success = bool(result.success)
    finite = bool(np.all(np.isfinite(params)) and np.isfinite(ll))
    reason = ""
    if not success:
        reason = f"{model} fit did not converge: {result.message}"
    elif not finite:
        reason = f"{model} fit gave non-finite estimates"
    return Fit(
        params=dict(zip(names, (float(p) for p in params), strict=True)),
        log_likelihood=ll,
        converged=success and finite,
        iterations=int(result.nit),
        customers=int(weights.sum()),
        histories=len(weights),
        reason=reason,
    )
