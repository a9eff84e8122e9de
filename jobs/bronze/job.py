"""Glue entry script of the bronze job: new landing files to append-only Parquet, every line."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from jobs.bronze.ingest import ingest_dataset, whole_files
from jobs.common.args import JobArgs
from jobs.common.config import read_contracts, select_datasets
from jobs.common.entry import run_main, say
from jobs.common.lake import FileInfo, LakeFiles, LakePaths
from jobs.common.runtime import get_spark


def main() -> None:
    """Glue entry point: run the bronze job and print its summary (or its error)."""
    run_main("bronze", body)


def body(argv: list[str]) -> dict[str, Any]:
    """Ingest every dataset's new landing files.

    Parameters
    ----------
    argv : list of str
        The process arguments (Glue style: ``--lake_root``, ``--run_id``, ``--landing_root``,
        ``--contracts_root``, ``--datasets``).

    Returns
    -------
    dict
        run_id, datasets (files found, new, rows, the batch) and absent (no landing files).
    """
    args = JobArgs.from_argv(argv)
    spark = get_spark("medallion-bronze")
    files = LakeFiles(spark)
    lake = LakePaths(args.lake_root)
    contracts = read_contracts(files, args.contracts_root)
    ingested_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    summary: dict[str, Any] = {"run_id": args.run_id, "datasets": {}, "absent": []}
    found: dict[str, list[FileInfo]] = {}
    for dataset in select_datasets(contracts, args.datasets):
        landing = f"{args.landing_root}/{dataset}"
        found[dataset] = files.list_files(landing)
        if not found[dataset]:
            say(f"bronze: no landing files for {dataset} under {landing}; skipped")
            summary["absent"].append(dataset)
    present = [dataset for dataset, listed in found.items() if listed]
    # Datasets are independent: side by side, one's single-task stages (a file read whole)
    # overlap another's. The whole-file settings hold for all of them, so no thread resets
    # them under another.
    with whole_files(spark), ThreadPoolExecutor(max_workers=max(1, len(present))) as pool:
        runs = {
            dataset: pool.submit(
                ingest_dataset,
                spark,
                files,
                lake,
                contracts[dataset],
                found[dataset],
                args.run_id,
                ingested_at,
            )
            for dataset in present
        }
        summary["datasets"] = {dataset: run.result() for dataset, run in runs.items()}
    return summary


if __name__ == "__main__":
    main()
