"""Glue entry script of the gold layer: silver tables in, business marts out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from jobs.common.args import JobArgs
from jobs.common.config import read_contracts
from jobs.common.entry import run_main
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.runtime import get_spark
from jobs.gold import transforms as t
from jobs.gold.inputs import read_silver, silver_schemas
from jobs.gold.marts import MARTS, build_marts, empty_reasons, with_empty_inputs, write_mart
from jobs.gold.value.publish import VALUE_GRAINS, add_value_marts, value_settings


def main() -> None:
    """Glue entry point: run the gold job and print its summary (or its error)."""
    run_main("gold", body)


def body(argv: list[str]) -> dict[str, Any]:
    """Read silver, build every mart its inputs allow, overwrite them in gold, summarise.

    Parameters
    ----------
    argv : list of str
        The process arguments (Glue style: ``--lake_root``, ``--run_id``,
        ``--contracts_root``, ``--observation_end``, ``--full_refresh``).

    Returns
    -------
    dict
        The run summary: run_id, observation_end, full_refresh, inputs, marts (rows written,
        every mart), empty (why a mart has no rows, per mart that cannot have any) and
        customer_value (the model's status and, per model, why it is not usable).
    """
    args = JobArgs.from_argv(argv)
    settings = value_settings(argv)
    spark = get_spark("medallion-gold")
    paths = LakePaths(args.lake_root)
    schemas = silver_schemas(spark, read_contracts(LakeFiles(spark), args.contracts_root))
    inputs = {dataset: read_silver(spark, paths, dataset, schemas[dataset]) for dataset in schemas}
    observation_end = args.observation_end
    order_lines = inputs["order_lines"]
    if observation_end is None and order_lines is not None:
        observation_end = t.last_sales_date(order_lines).collect()[0]["observation_end"]
    empty = empty_reasons(inputs, has_sales=observation_end is not None)
    # Without sales every mart is empty whatever the end date; today's keeps the types whole.
    marts = build_marts(
        with_empty_inputs(spark, inputs, schemas), observation_end or datetime.now(UTC).date()
    )
    value = add_value_marts(marts, empty, paths, args.run_id, observation_end, settings)
    grains = {**{m.name: m.grain for m in MARTS}, **VALUE_GRAINS}
    # Side by side, one mart's small single-task stages overlap another's scans.
    with ThreadPoolExecutor(max_workers=max(1, len(marts))) as pool:
        writes = {
            name: pool.submit(write_mart, frame, paths.gold(name), grains[name])
            for name, frame in marts.items()
        }
        written = {name: write.result() for name, write in writes.items()}
    value.write_quality(LakeFiles(spark), paths, args.run_id)
    return {
        "run_id": args.run_id,
        "observation_end": observation_end.isoformat() if observation_end else None,
        # Whether the run was started with --full_refresh; gold recomputes every mart from the
        # whole of silver either way (the customer marts need all history).
        "full_refresh": args.full_refresh,
        "inputs": {d: inputs[d] is not None for d in schemas},
        "marts": written,
        # Marts written with zero rows, and why: their views answer, with nothing.
        "empty": empty,
        # The customer-value model's status; a fit that fails warns and never fails the run.
        "customer_value": value.summary(),
    }


if __name__ == "__main__":
    main()
