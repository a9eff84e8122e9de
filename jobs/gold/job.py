"""Glue entry script of the gold layer: silver tables in, business marts out."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import DataFrame

from jobs.common.args import JobArgs
from jobs.common.config import read_contracts
from jobs.common.entry import run_main
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.runtime import get_spark
from jobs.gold import transforms as t
from jobs.gold.build import Incremental, Reader, stage_full
from jobs.gold.changes import SilverChanges, read_state, silver_changes, write_state
from jobs.gold.customer_state import CustomerTables
from jobs.gold.customers import cohorts_from_counts, lifetime_from_summary, rfm_from_summary
from jobs.gold.inputs import silver_schemas
from jobs.gold.marts import MARTS, empty_reasons
from jobs.gold.plan import plan_run
from jobs.gold.publish import Publication, complete, write_run_record
from jobs.gold.value.model import ValueSettings
from jobs.gold.value.publish import (
    VALUE_GRAINS,
    ValuePublished,
    add_empty_reasons,
    add_value_marts,
    customer_inputs,
    kept_customer_marts,
    value_settings,
)

__all__ = ["MARTS", "body", "empty_reasons", "main"]


def main() -> None:
    """Glue entry point: run the gold job and print its summary (or its error)."""
    run_main("gold", body)


def last_sales_date(
    reader: Reader, changes: SilverChanges, state: dict[str, Any] | None
) -> date | None:
    """The last UTC day with any order line: as recorded when order_lines did not change,
    else read from silver's latest partition alone."""
    if state is not None and "order_lines" not in changes.changed:
        recorded = state.get("last_sales_date")
        return date.fromisoformat(recorded) if recorded else None
    dated = [p for p in changes.current.get("order_lines", {}).values() if p.days]
    if not dated:
        return None
    latest = max(dated, key=lambda p: max(p.days or ()))
    found = t.last_sales_date(reader.silver("order_lines", [latest.path])).collect()[0][0]
    return found if isinstance(found, date) else None


def body(argv: list[str]) -> dict[str, Any]:
    """Rebuild what changed in silver (or everything), publish it whole, record the run.

    Parameters
    ----------
    argv : list of str
        The process arguments (Glue style: ``--lake_root``, ``--run_id``,
        ``--contracts_root``, ``--observation_end``, ``--full_refresh``).

    Returns
    -------
    dict
        The run summary: run_id, mode (``full`` or ``incremental``), full_because (why a run
        was full, None when incremental), rows_read,
        observation_end, full_refresh, inputs, marts (rows written this run, per mart),
        partitions_rewritten, customer_summary (``updated``, ``unchanged`` or ``rebuilt: <why>``),
        empty (why a mart has no rows) and customer_value (the model's status and, per model,
        why it is not usable).
    """
    clock = time.monotonic()
    args = JobArgs.from_argv(argv)
    settings = value_settings(argv)
    spark = get_spark("medallion-gold")
    files, paths = LakeFiles(spark), LakePaths(args.lake_root)
    complete(files, paths)  # a swap a killed run left half made is finished first
    schemas = silver_schemas(spark, read_contracts(files, args.contracts_root))
    state, no_state = read_state(files, paths)
    changes = silver_changes(files, paths, list(schemas), (state or {}).get("silver", {}))
    present = {dataset: bool(changes.current[dataset]) for dataset in schemas}
    full_because = full_refresh_reason(args.full_refresh, (state, no_state), changes, present)
    full = bool(full_because)
    reader = Reader(spark, files, paths, schemas)
    publication = Publication(spark, files, paths, args.run_id)
    last = last_sales_date(reader, changes, None if full else state)
    observation_end = args.observation_end or last
    available = {d: reader.empty(d) if present[d] else None for d in schemas}
    empty = empty_reasons(available, has_sales=observation_end is not None)
    plan = plan_run(changes)
    customers = CustomerMarts(publication, empty, args.run_id, (observation_end, last), settings)
    if not (full or plan.sales_days):  # the activity is as the last run left it
        customers.keep_if_unchanged(state)
    if full:
        inputs = {d: reader.silver(d) if present[d] else reader.empty(d) for d in schemas}
        stage_full(publication, reader, inputs, customers)
    else:
        incremental = Incremental(reader, changes, plan, publication)
        incremental.stage(present["products"], present["reviews"], customers)
    [value] = customers.staged
    rows_read = reader.rows_read()  # before publishing replaces files its counts list
    publication.publish()
    recorded = {"inputs": customers.inputs, "summary": value.summary()}
    write_state(files, paths, {**consumed(changes, present, last), "customers": recorded})
    value.write_quality(files, paths, args.run_id)
    record = run_record(args.run_id, full, rows_read, publication, clock)
    record["full_because"] = full_because or None
    record["customer_summary"] = customers.summary
    write_run_record(files, paths, record)
    return {
        **{k: record[k] for k in RECORD_IN_SUMMARY},
        "observation_end": observation_end.isoformat() if observation_end else None,
        "full_refresh": args.full_refresh,
        "inputs": present,
        "marts": record["rows_written"],
        # Marts written with zero rows, and why: their views answer, with nothing.
        "empty": empty,
        # The customer-value model's status; a fit that fails warns and never fails the run.
        "customer_value": value.summary(),
    }


RECORD_IN_SUMMARY = (
    "run_id",
    "mode",
    "full_because",
    "rows_read",
    "partitions_rewritten",
    "customer_summary",
)
GRAINS = {**{m.name: m.grain for m in MARTS}, **VALUE_GRAINS}


class CustomerMarts:
    """Stages the customer marts when the run's activity table is ready (a callable on it), or
    keeps them as published when the last run computed them from the same inputs.

    The marts depend on the activity, the observation end and the value settings only. When
    the caller knows the activity did not change (no order-line day rewritten) and gold's state
    records the same end and settings, the marts, the model and its quality results stay as
    they are: a run with nothing new, or with new products only, fits nothing.
    """

    def __init__(
        self,
        publication: Publication,
        empty: dict[str, str],
        run_id: str,
        ends: tuple[date | None, date | None],
        settings: ValueSettings,
    ) -> None:
        self.publication, self.empty, self.run_id = publication, empty, run_id
        # The as-of day (None: the last sales day) and the last sales day.
        (self.observation_end, self.last), self.settings = ends, settings
        # Without sales every mart is empty whatever the end date; today's keeps the types whole.
        self.end = self.observation_end or datetime.now(UTC).date()
        self.inputs = customer_inputs(self.end, settings)
        self.kept: ValuePublished | None = None
        self.staged: list[ValuePublished] = []
        self.summary = "unchanged"  # how the customer summary was made (CustomerTables.how)

    def keep_if_unchanged(self, state: dict[str, Any] | None) -> None:
        self.kept = kept_customer_marts(state, self.inputs)

    def __call__(self, tables: Callable[[], CustomerTables]) -> None:
        if self.kept is not None:
            add_empty_reasons(self.empty, self.observation_end)  # as when they were published
            self.staged.append(self.kept)
            return
        built = tables()
        self.summary = built.how
        self.staged.append(
            stage_customer_marts(self.publication, built.as_of(self.end, self.last), self.empty,
                                 self.run_id, self.end, self.observation_end, self.settings)
        )  # fmt: skip


def full_refresh_reason(
    asked: bool,
    state: tuple[dict[str, Any] | None, str],
    changes: SilverChanges,
    present: dict[str, bool],
) -> str:
    """Why this run rebuilds gold from the whole of silver, "" if it need not; ``state`` is what
    :func:`jobs.gold.changes.read_state` returned (the state, or None and why)."""
    recorded, no_state = state
    if asked:
        return "asked for (--full-refresh)"
    if recorded is None:
        return no_state
    if recorded.get("inputs") != present:
        return "the silver datasets present changed"
    if changes.undated():
        return "silver rewrote partitions without a business date"
    return ""


def consumed(changes: SilverChanges, present: dict[str, bool], last: date | None) -> dict[str, Any]:
    """What gold records as consumed: silver's fingerprints, which datasets there were, and the
    last sales day."""
    return {
        "silver": changes.fingerprints(),
        "inputs": present,
        "last_sales_date": last.isoformat() if last else None,
    }


def run_record(
    run_id: str, full: bool, rows_read: dict[str, int], publication: Publication, clock: float
) -> dict[str, Any]:
    """``_meta/gold/runs/<run_id>.json``: what the run read and rewrote, and how long it took."""
    return {
        "run_id": run_id,
        "mode": "full" if full else "incremental",
        "rows_read": sum(rows_read.values()),
        "rows_read_by_input": rows_read,
        "partitions_rewritten": {m: publication.partitions.get(m, 0) for m in GRAINS},
        "rows_written": {m: publication.written.get(m, 0) for m in GRAINS},
        "seconds": round(time.monotonic() - clock, 3),
    }


def stage_customer_marts(
    publication: Publication,
    inputs: tuple[DataFrame, DataFrame],
    empty: dict[str, str],
    run_id: str,
    end: date,
    observation_end: date | None,
    settings: ValueSettings,
) -> ValuePublished:
    """Stage the customer marts as of ``end`` from ``inputs``, the customer summary and cohort
    counts as of ``end``: RFM ranks all customers, so it reads one row per customer, never the
    order lines or each day's activity."""
    summary, cohorts = inputs
    marts = {
        "customer_rfm": rfm_from_summary(summary, end),
        "customer_lifetime": lifetime_from_summary(summary, end),
        "cohort_retention": cohorts_from_counts(cohorts, end),
    }
    value = add_value_marts(marts, empty, publication.paths, run_id, observation_end, settings)
    # Side by side, one mart's small single-task stages overlap another's scans.
    with ThreadPoolExecutor(max_workers=len(marts)) as pool:
        staged = [
            pool.submit(
                publication.stage_whole, name, publication.paths.gold(name), frame, GRAINS[name]
            )
            for name, frame in marts.items()
        ]
        for future in staged:
            future.result()
    return value


if __name__ == "__main__":
    main()
