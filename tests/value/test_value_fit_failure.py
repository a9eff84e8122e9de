"""A customer-value fit that cannot converge: the gold run still publishes every mart, the value
mart says the model failed and why, and the quality results carry the warning."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from streamlit.testing.v1 import AppTest

from jobs.gold import job as gold_job
from medallion.cli.progress import value_model_notes
from medallion.local import catalog

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_fit_that_cannot_converge_warns_and_every_other_mart_is_published(
    spark: SparkSession, copy_lake: Callable[[Path], Path], tmp_path: Path
) -> None:
    lake = copy_lake(tmp_path / "lake")
    before = {p.name: len(pd.read_parquet(p)) for p in (lake / "gold").iterdir() if p.is_dir()}
    # One BFGS iteration cannot converge: the run's real fit, stopped early on purpose.
    summary = gold_job.body(
        ["job.py", "--lake_root", str(lake), "--run_id", "no-convergence",
         "--customer_value_max_iterations", "1", "--monthly_discount_rate", "0.02"]
    )  # fmt: skip
    value = summary["customer_value"]
    assert value["status"] == "failed"
    assert value["reasons"]["bg_nbd"].startswith("BG/NBD fit did not converge")
    # what medallion run prints of this gold summary
    (note,) = value_model_notes({"gold": summary})
    assert note.startswith("customer value model failed (bg_nbd: BG/NBD fit did not converge")
    # Every other mart is published, with the rows of the successful run (same silver): the
    # customer marts are written again (the value settings differ from the run that published
    # them), the marts that grow with time keep their months (silver changed nothing, so gold
    # rewrote none of them).
    assert summary["empty"] == {}
    after = {p.name: len(pd.read_parquet(p)) for p in (lake / "gold").iterdir() if p.is_dir()}
    assert {k: v for k, v in after.items() if k != "customer_value_model"} == {
        k: v for k, v in before.items() if k != "customer_value_model"
    }
    customer_marts = ("customer_rfm", "customer_lifetime", "cohort_retention", "customer_value")
    assert all(summary["marts"][m] == before[m] > 0 for m in customer_marts), summary["marts"]
    marts = pd.read_parquet(lake / "gold" / "customer_value")
    assert (marts.model_status == "failed").all() and marts.p_alive.isna().all()
    assert marts.clv_12m.isna().all() and (marts.churn_risk == "unknown").all()
    models = pd.read_parquet(lake / "gold" / "customer_value_model").set_index("run_id")
    assert len(models) == 2  # the pipeline run's row is kept beside this run's
    failed = models.loc["no-convergence"]
    assert failed.status == "failed" and not failed.bg_nbd_converged
    assert failed.monthly_discount_rate == 0.02
    assert "did not converge" in failed.reasons
    assert models.drop(index="no-convergence").status.tolist() == ["ok"]
    folder = lake / "quality" / "results" / "dataset=customer_value" / "run_id=no-convergence"
    records = [json.loads(x) for f in folder.glob("*.json") for x in f.read_text().splitlines()]
    fit = {r["rule_id"]: r for r in records}["customer_value_bg_nbd_fit"]
    assert (fit["status"], fit["severity"]) == ("warn", "warn")
    assert fit["message"] == value["reasons"]["bg_nbd"]
    # The dashboard's page says so, and draws what it can without an error.
    catalog.build_catalog(str(lake))
    script = tmp_path / "value_page.py"
    script.write_text(
        f"import sys\nsys.path.insert(0, {str(REPO)!r})\n"
        f"sys.argv = ['app', '--lake', {str(lake)!r}]\n"
        "from dashboard import data, pages\ndata.start_page()\npages.customer_value()\n"
    )
    page = AppTest.from_file(str(script), default_timeout=300).run()
    assert [e.value for e in page.exception] == []
    assert [w.value for w in page.warning] == [
        f"The model of run no-convergence is failed: {failed.reasons}"
    ]
    assert page.header[0].value == "Customer value"
