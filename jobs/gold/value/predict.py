"""Per-history predictions of a fitted BG/NBD model and the Gamma-Gamma expected spend.

The formulas are those of ``lifetimes`` 0.11.3, so its fitters and these give the same numbers:
P(alive) from http://www.brucehardie.com/notes/021/palive_for_BGNBD.pdf (1 for a customer with
no repeat purchase), expected purchases in the next t days from equation (10) of Fader, Hardie &
Lee (2005), the conditional expected average spend of Fader & Hardie (2013), and the 12-month
value as ``lifetimes.utils._customer_lifetime_value`` sums it: month by month (30 days each),
the expected purchases of the month times the expected spend, discounted monthly.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, hyp2f1

Array = NDArray[np.float64]

DAYS_PER_MONTH = 30  # lifetimes' factor for freq="D"
CLV_MONTHS = 12


def p_alive(params: dict[str, float], x: Array, t_x: Array, big_t: Array) -> Array:
    """Probability each history's customer is still active (1 without a repeat purchase)."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    log_div = (r + x) * np.log((alpha + big_t) / (alpha + t_x)) + np.log(
        a / (b + np.maximum(x, 1) - 1)
    )
    return np.asarray(np.where(x == 0, 1.0, expit(-log_div)), dtype=np.float64)


def expected_purchases(
    params: dict[str, float], t: float, x: Array, t_x: Array, big_t: Array
) -> Array:
    """Expected repeat purchases in the next ``t`` days, given each history."""
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    if t == 0:
        return np.zeros_like(x, dtype=np.float64)
    c_a, c_b, c_c = r + x, b + x, a + b + x - 1
    z = t / (alpha + big_t + t)
    ratio = (r + x) * np.log((alpha + big_t) / (alpha + t + big_t))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hyp = hyp2f1(c_a, c_b, c_c, z)
        # Where the series overflows, Euler's transformation in logs gives the same value
        # (lifetimes' way). Where 2F1 is negative (a + b + x < 1), lifetimes' log is undefined
        # and it answers NaN; the product itself is the same expression, and finite.
        alt = np.log(hyp2f1(c_c - c_a, c_c - c_b, c_c, z)) + (c_c - c_a - c_b) * np.log(1 - z)
        scaled = np.where(np.isinf(hyp), np.exp(alt + ratio), hyp * np.exp(ratio))
    second = 1 - scaled
    first = (a + b + x - 1) / (a - 1)
    denominator = 1 + (x > 0) * (a / (b + x - 1)) * ((alpha + big_t) / (alpha + t_x)) ** (r + x)
    return np.asarray(first * second / denominator, dtype=np.float64)


def discounted_purchases(
    params: dict[str, float], x: Array, t_x: Array, big_t: Array, monthly_rate: float
) -> Array:
    """Sum over the next 12 months of the month's expected purchases / (1 + rate) ** month.

    Times the expected spend per purchase this is the 12-month customer lifetime value.
    """
    total = np.zeros_like(x, dtype=np.float64)
    previous = np.zeros_like(x, dtype=np.float64)
    for month in range(1, CLV_MONTHS + 1):
        cumulative = expected_purchases(params, month * DAYS_PER_MONTH, x, t_x, big_t)
        total += (cumulative - previous) / (1 + monthly_rate) ** month
        previous = cumulative
    return total


def expected_spend(params: dict[str, float], x: Array, m: Array) -> Array:
    """Gamma-Gamma expected spend per purchase: the customer's mean repeat spend shrunk towards
    the population mean ``p v / (q - 1)`` (the population mean alone without repeat spend)."""
    p, q, v = (params[k] for k in ("p", "q", "v"))
    has_spend = (x > 0) & (m > 0)
    weight = np.where(has_spend, p * x / (p * x + q - 1), 0.0)
    population = v * p / (q - 1)
    return np.asarray((1 - weight) * population + weight * np.where(has_spend, m, 0.0))
