"""How the gold job adds the customer-value marts: its arguments, the marts, the quality records."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import DataFrame

from jobs.common import frames
from jobs.common.args import resolve
from jobs.common.errors import JobArgumentError
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.quality.verdicts import Verdict
from jobs.common.records import attempt_stamp
from jobs.gold.value.mart import (
    CUSTOMER_VALUE_GRAIN,
    CUSTOMER_VALUE_SCHEMA,
    MODEL_GRAIN,
    MODEL_SCHEMA,
    customer_value_marts,
    model_history,
)
from jobs.gold.value.model import DEFAULT_MONTHLY_DISCOUNT_RATE, ValueModel, ValueSettings

CUSTOMER_VALUE = "customer_value"
CUSTOMER_VALUE_MODEL = "customer_value_model"
VALUE_GRAINS: dict[str, tuple[str, ...]] = {
    CUSTOMER_VALUE: CUSTOMER_VALUE_GRAIN,
    CUSTOMER_VALUE_MODEL: MODEL_GRAIN,
}
# The quality records' dataset: quality/results/dataset=customer_value/run_id=<run>/.
QUALITY_DATASET = CUSTOMER_VALUE


def value_settings(argv: list[str]) -> ValueSettings:
    """The customer-value arguments: ``--monthly_discount_rate`` (default 0.01, lifetimes'
    default) and ``--customer_value_max_iterations`` (BFGS's limit; scipy's when empty).

    Raises
    ------
    JobArgumentError
        A rate that is not a number in [0, 1), or a limit that is not a positive integer.
    """
    values = resolve(
        argv,
        ["lake_root", "run_id"],
        {
            "monthly_discount_rate": str(DEFAULT_MONTHLY_DISCOUNT_RATE),
            "customer_value_max_iterations": "",
        },
    )
    text = values["monthly_discount_rate"]
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0 <= rate < 1:
        raise JobArgumentError(f"--monthly_discount_rate {text!r} is not a rate in [0, 1)")
    limit = values["customer_value_max_iterations"].strip()
    if limit and not (limit.isdigit() and int(limit) > 0):
        raise JobArgumentError(
            f"--customer_value_max_iterations {limit!r} is not a positive integer"
        )
    return ValueSettings(monthly_discount_rate=rate, max_iterations=int(limit) if limit else None)


@dataclass(frozen=True)
class ValuePublished:
    """What the run decided about customer value: the model and its quality results."""

    model: ValueModel | None
    verdicts: list[Verdict]

    def summary(self) -> dict[str, Any]:
        """The job summary's ``customer_value`` entry: status, why a model is not usable, and
        that this run fitted it."""
        if self.model is None:
            return {"status": "not_fitted", "reasons": {}, "fitted": True}
        return {"status": self.model.status, "reasons": dict(self.model.reasons), "fitted": True}

    def write_quality(self, files: LakeFiles, paths: LakePaths, run_id: str) -> None:
        """Write the run's ``quality_results`` records (one file per attempt, as silver does)."""
        if not self.verdicts:
            return
        moment = datetime.now(UTC)
        # evaluated_at as silver writes it (``2024-01-31T09:15:02``): the views order by it.
        evaluated_at = moment.replace(tzinfo=None, microsecond=0).isoformat()
        records = [v.record(run_id, QUALITY_DATASET, evaluated_at) for v in self.verdicts]
        attempt = attempt_stamp(moment)
        target = paths.quality_record("quality_results", QUALITY_DATASET, run_id, attempt)
        files.write_json_lines(target, records)


@dataclass(frozen=True)
class ValueKept(ValuePublished):
    """A run that left the customer marts as the last fit published them: its summary is that
    fit's, and it writes no quality results of its own."""

    recorded: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {**(self.recorded or {}), "fitted": False}


def customer_inputs(end: date, settings: ValueSettings) -> dict[str, Any]:
    """What the customer marts are computed from besides the activity: the observation end and
    the value model's settings (gold's state records them with the marts it published)."""
    return {"observation_end": end.isoformat(), "value_settings": asdict(settings)}


def kept_customer_marts(state: dict[str, Any] | None, inputs: dict[str, Any]) -> ValueKept | None:
    """The published customer marts, when the last run computed them from these inputs (and the
    caller knows the activity did not change since); None when they must be computed again."""
    recorded = (state or {}).get("customers")
    if not isinstance(recorded, dict) or recorded.get("inputs") != inputs:
        return None
    return ValueKept(None, [], dict(recorded.get("summary") or {}))


def add_empty_reasons(empty: dict[str, str], observation_end: date | None) -> bool:
    """Add why the value marts are empty to ``empty`` when ``customer_lifetime`` has no rows to
    fit on; return whether they are."""
    if observation_end is None or "customer_lifetime" in empty:
        reason = empty.get("customer_lifetime", "needs order_lines with at least one row")
        empty.update({CUSTOMER_VALUE: reason, CUSTOMER_VALUE_MODEL: reason})
        return True
    return False


def add_value_marts(
    marts: dict[str, DataFrame],
    empty: dict[str, str],
    paths: LakePaths,
    run_id: str,
    observation_end: date | None,
    settings: ValueSettings,
) -> ValuePublished:
    """Add ``customer_value`` and ``customer_value_model`` to ``marts`` (and to ``empty`` when
    ``customer_lifetime`` has no rows to fit on), fitting on the ``customer_lifetime`` mart."""
    lifetime = marts["customer_lifetime"]
    spark = lifetime.sparkSession
    model_path = paths.gold(CUSTOMER_VALUE_MODEL)
    exists = LakeFiles(spark).exists(model_path)
    if add_empty_reasons(empty, observation_end) or observation_end is None:
        marts[CUSTOMER_VALUE] = frames.empty(spark, CUSTOMER_VALUE_SCHEMA)
        this_run = frames.empty(spark, MODEL_SCHEMA)
        marts[CUSTOMER_VALUE_MODEL] = model_history(spark, model_path, exists, this_run, run_id)
        return ValuePublished(None, [])
    # Computed once: the fit collects it, then the mart's own write reads it again.
    lifetime = lifetime.cache()
    marts["customer_lifetime"] = lifetime
    outcome = customer_value_marts(lifetime, run_id, observation_end, settings)
    marts[CUSTOMER_VALUE] = outcome.customer_value
    marts[CUSTOMER_VALUE_MODEL] = model_history(
        spark, model_path, exists, outcome.model_row, run_id
    )
    return ValuePublished(outcome.model, outcome.verdicts)
