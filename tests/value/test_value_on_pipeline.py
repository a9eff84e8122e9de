"""Customer value after a real pipeline run on generated data (the session's ``pipeline_lake``):
the marts against lifetimes fitted on the run's own ``customer_lifetime`` summary, the known
properties, the quality results, and the views' numbers against pandas over the marts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medallion.local import catalog

lifetimes = pytest.importorskip("lifetimes")

REL = 1e-3


def gold(lake: Path, mart: str) -> pd.DataFrame:
    return pd.read_parquet(lake / "gold" / mart)


def to_the_cent(got: pd.Series, expected: pd.Series) -> bool:
    """The views show predicted money as decimal(18,2), rounded half-up from the mart's double."""
    got_, expected_ = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return bool(np.all(np.abs(got_ - expected_) <= 0.005 + 1e-9))


def close(got: pd.Series | np.ndarray, expected: pd.Series | np.ndarray) -> bool:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return bool(np.all(np.abs(got - expected) <= REL * np.abs(expected)))


@pytest.fixture(scope="module")
def marts(pipeline_lake: Path) -> dict[str, pd.DataFrame]:
    names = ("customer_lifetime", "customer_value", "customer_value_model", "customer_rfm")
    return {name: gold(pipeline_lake, name) for name in names}


@pytest.fixture(scope="module")
def reference(marts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """lifetimes' fit and predictions on the run's summary, one row per customer, with the
    same penalisers and discount rate as the run's model row."""
    summary = marts["customer_lifetime"].set_index("customer_id").sort_index()
    model = marts["customer_value_model"].iloc[0]
    x, t_x, big_t = summary["frequency"], summary["recency"], summary["T"]
    bgf = lifetimes.BetaGeoFitter(penalizer_coef=model.bg_nbd_penalizer).fit(x, t_x, big_t)
    repeat = summary[summary.frequency > 0]
    ggf = lifetimes.GammaGammaFitter(penalizer_coef=model.gamma_gamma_penalizer).fit(
        repeat["frequency"], repeat["monetary_value"]
    )
    out = pd.DataFrame(index=summary.index)
    out.attrs.update(bg_nbd=dict(bgf.params_), gamma_gamma=dict(ggf.params_))
    out["p_alive"] = bgf.conditional_probability_alive(x, t_x, big_t)
    with np.errstate(all="ignore"):  # lifetimes answers NaN where 2F1 < 0 (see test_value_fit)
        for days in (30, 90, 365):
            out[f"expected_purchases_{days}d"] = (
                bgf.conditional_expected_number_of_purchases_up_to_time(days, x, t_x, big_t)
            )
        out["expected_avg_spend"] = ggf.conditional_expected_average_profit(
            x, summary["monetary_value"]
        )
        out["clv_12m"] = ggf.customer_lifetime_value(
            bgf, x, t_x, big_t, summary["monetary_value"], time=12,
            discount_rate=model.monthly_discount_rate, freq="D",
        )  # fmt: skip
    return out


def test_the_fitted_parameters_equal_lifetimes(
    marts: dict[str, pd.DataFrame], reference: pd.DataFrame
) -> None:
    [model] = marts["customer_value_model"].to_dict("records")
    assert model["status"] == "ok" and model["bg_nbd_converged"] and model["gamma_gamma_converged"]
    assert model["customers"] == len(marts["customer_lifetime"]) == model["bg_nbd_customers"]
    assert model["bg_nbd_histories"] <= model["customers"]
    assert model["monthly_discount_rate"] == 0.01  # the documented default
    for name, value in reference.attrs["bg_nbd"].items():
        assert close(model[f"bg_nbd_{name}"], value), name
    for name, value in reference.attrs["gamma_gamma"].items():
        assert close(model[f"gamma_gamma_{name}"], value), name
    summary = marts["customer_lifetime"]
    repeat = summary[summary.frequency > 0]
    corr = np.corrcoef(repeat.frequency, repeat.monetary_value)[0, 1]
    assert close(model["frequency_monetary_corr"], corr)


def test_every_customers_prediction_equals_lifetimes(
    marts: dict[str, pd.DataFrame], reference: pd.DataFrame
) -> None:
    value = marts["customer_value"].set_index("customer_id").sort_index()
    assert list(value.index) == list(reference.index)  # one row per customer of the summary
    assert (value.model_status == "ok").all()
    for column in reference.columns:
        ours, theirs = value[column].to_numpy(float), reference[column].to_numpy(float)
        assert np.isfinite(ours).all(), column  # every customer gets a number
        finite = np.isfinite(theirs)
        assert finite.sum() >= len(theirs) / 2, column
        assert close(ours[finite], theirs[finite]), column


def test_the_known_properties_hold(marts: dict[str, pd.DataFrame]) -> None:
    value = marts["customer_value"]
    assert (value.loc[value.frequency == 0, "p_alive"] == 1.0).all()
    assert value.p_alive.between(0, 1).all()
    assert (value.expected_purchases_30d <= value.expected_purchases_90d).all()
    assert (value.expected_purchases_90d <= value.expected_purchases_365d).all()
    assert (value.expected_purchases_30d >= 0).all()
    assert (value.clv_12m >= 0).all() and value.clv_12m.notna().all()
    assert (value.expected_avg_spend > 0).all()
    bands = np.select([value.p_alive < 0.3, value.p_alive < 0.7], ["high", "medium"], default="low")
    assert value.churn_risk.tolist() == bands.tolist()


def test_the_run_records_the_models_quality_results(
    pipeline_lake: Path, marts: dict[str, pd.DataFrame]
) -> None:
    folder = pipeline_lake / "quality" / "results" / "dataset=customer_value"
    texts = [path.read_text() for path in folder.rglob("*.json")]
    records = [json.loads(line) for text in texts for line in text.splitlines()]
    results = {r["rule_id"]: r for r in records}
    assert set(results) == {
        "customer_value_bg_nbd_fit",
        "customer_value_gamma_gamma_fit",
        "customer_value_spend_independence",
    }
    assert {r["severity"] for r in records} == {"warn"}
    assert results["customer_value_bg_nbd_fit"]["status"] == "pass"
    corr = marts["customer_value_model"].frequency_monetary_corr.iloc[0]
    independence = results["customer_value_spend_independence"]
    assert independence["status"] == ("pass" if abs(corr) <= 0.3 else "warn")
    assert f"{corr:.3f}" in independence["message"]
    latest = catalog.execute(
        str(pipeline_lake),
        "select rule_id, status from v_quality_latest where dataset = 'customer_value'",
    )
    assert dict(zip(latest.rule_id, latest.status, strict=True)) == {
        k: v["status"] for k, v in results.items()
    }


def test_value_by_segment_view_adds_up_the_customers(
    pipeline_lake: Path, marts: dict[str, pd.DataFrame]
) -> None:
    joined = marts["customer_rfm"].merge(marts["customer_value"], on="customer_id")
    expected = joined.groupby("segment").agg(
        customer_count=("customer_id", "size"),
        total_clv_12m=("clv_12m", "sum"),
        max_clv_12m=("clv_12m", "max"),
        high=("churn_risk", lambda s: int((s == "high").sum())),
        medium=("churn_risk", lambda s: int((s == "medium").sum())),
    )
    got = catalog.execute(str(pipeline_lake), "select * from v_customer_value_segments")
    got = got.set_index("segment").sort_index()
    assert list(got.index) == list(expected.index)
    assert got.customer_count.tolist() == expected.customer_count.tolist()
    assert got.valued_customers.tolist() == expected.customer_count.tolist()
    assert to_the_cent(got.total_clv_12m, expected.total_clv_12m)
    assert to_the_cent(got.max_clv_12m, expected.max_clv_12m)
    assert got.high_risk_customers.tolist() == expected.high.tolist()
    assert got.medium_risk_customers.tolist() == expected.medium.tolist()
    assert abs(got.clv_share.sum() - 1) < 1e-9


def test_at_risk_view_ranks_repeat_customers_by_value_at_risk(
    pipeline_lake: Path, marts: dict[str, pd.DataFrame]
) -> None:
    joined = marts["customer_rfm"].merge(
        marts["customer_value"].drop(columns=["frequency", "observation_end"]), on="customer_id"
    )
    risky = joined[joined.churn_risk.isin(["high", "medium"])].copy()
    risky["value_at_risk"] = risky.monetary.astype(float) * (1 - risky.p_alive)
    risky = risky.sort_values(["value_at_risk", "customer_id"], ascending=[False, True])
    got = catalog.execute(
        str(pipeline_lake), "select * from v_customers_at_risk_by_value order by risk_rank"
    )
    assert len(got) > 0
    assert got.customer_id.tolist() == risky.customer_id.tolist()
    assert got.risk_rank.tolist() == list(range(1, len(got) + 1))
    assert to_the_cent(got.value_at_risk, risky.value_at_risk)
    lost = catalog.execute(
        str(pipeline_lake),
        (Path(__file__).parents[2] / "sql/named_queries/valuable_customers_likely_lost.sql")
        .read_text()
        .split("\n", 2)[2],
    )
    assert lost.customer_id.tolist() == risky.customer_id.tolist()[:100]
    top = catalog.execute(
        str(pipeline_lake),
        (Path(__file__).parents[2] / "sql/named_queries/top_customers_by_predicted_value.sql")
        .read_text()
        .split("\n", 2)[2],
    )
    best = marts["customer_value"].sort_values(["clv_12m", "customer_id"], ascending=[False, True])
    assert top.customer_id.tolist() == best.customer_id.tolist()[:100]
