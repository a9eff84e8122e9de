"""Glue entry script of the bronze job: new database rows and landing files to append-only
Parquet, every row and every line."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from jobs.bronze.extract import extract_dataset
from jobs.bronze.ingest import ingest_dataset
from jobs.bronze.notice import write_notice
from jobs.common.args import JobArgs, resolve
from jobs.common.config import read_contracts, select_datasets
from jobs.common.contracts import Contract
from jobs.common.entry import run_main, say
from jobs.common.jdbc import load_credentials
from jobs.common.lake import FileInfo, LakeFiles, LakePaths
from jobs.common.runtime import get_spark


def main() -> None:
    """Glue entry point: run the bronze job and print its summary (or its error)."""
    run_main("bronze", body)


def body(argv: list[str]) -> dict[str, Any]:
    """Extract every database dataset's new rows, then ingest every dataset's new landing files.

    Parameters
    ----------
    argv : list of str
        The process arguments (Glue style: ``--lake_root``, ``--run_id``, ``--landing_root``,
        ``--contracts_root``, ``--datasets``, and ``--jdbc_secret``: the Secrets Manager secret
        of the database when a contract has a ``source:``).

    Returns
    -------
    dict
        run_id, datasets (files found, new, rows, the batch; for a database: the source, the
        watermark range and any ``risk``), absent (no landing files) and risks.
    """
    args = JobArgs.from_argv(argv)
    secret_id = resolve(argv, [], {"jdbc_secret": ""})["jdbc_secret"]
    spark = get_spark("medallion-bronze")
    files = LakeFiles(spark)
    lake = LakePaths(args.lake_root)
    contracts = read_contracts(files, args.contracts_root)
    ingested_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    summary: dict[str, Any] = {"run_id": args.run_id, "datasets": {}, "absent": []}
    selected = select_datasets(contracts, args.datasets)
    databases = [contracts[d] for d in selected if contracts[d].database is not None]
    summary["datasets"].update(
        extract(databases, secret_id, spark, files, lake, args.run_id, ingested_at)
    )
    risks = [r["risk"]["message"] for r in summary["datasets"].values() if "risk" in r]
    if risks:
        summary["risks"] = risks
    found: dict[str, list[FileInfo]] = {}
    streamed: dict[str, frozenset[str]] = {}
    for dataset in (d for d in selected if contracts[d].database is None):
        landing = f"{args.landing_root}/{dataset}"
        # Recursive: the stream's objects sit under YYYY/MM/DD/HH/ folders.
        found[dataset] = files.list_files(landing)
        streamed[dataset] = stream_objects(files, landing, contracts[dataset])
        if not found[dataset]:
            say(f"bronze: no landing files for {dataset} under {landing}; skipped")
            summary["absent"].append(dataset)
    present = [dataset for dataset, listed in found.items() if listed]
    # Datasets are independent: side by side, one's single-task stages (a gzip file read
    # whole, the small jobs of a few files) overlap another's.
    with ThreadPoolExecutor(max_workers=max(1, len(present))) as pool:
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
                streamed[dataset],
            )
            for dataset in present
        }
        summary["datasets"].update({dataset: run.result() for dataset, run in runs.items()})
    told = write_notice(files, lake, args.run_id, summary["datasets"])
    summary["notice"] = {k: told[k] for k in ("count", "refused", "late_sources")}
    return summary


def stream_objects(files: LakeFiles, landing: str, contract: Contract) -> frozenset[str]:
    """The files under the contract's stream prefix (``landing/<dataset>/<prefix>/``), read as
    events; none when the contract has no ``stream:`` section.

    Firehose names an object ``<prefix>YYYY/MM/dd/HH/<stream>-<version>-<year>-...-<uuid>.gz``
    (https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html): the listing is
    recursive, and any name is taken.
    """
    if contract.stream is None:
        return frozenset()
    return frozenset(f.path for f in files.list_files(f"{landing}/{contract.stream.prefix}"))


def extract(
    databases: list[Contract],
    secret_id: str,
    spark: Any,
    files: LakeFiles,
    lake: LakePaths,
    run_id: str,
    ingested_at: datetime,
) -> dict[str, dict[str, Any]]:
    """Extract the database datasets one after another (one connection at a time to the
    operational database), before any file is read: bronze is the one way into the lake."""
    if not databases:
        return {}
    credentials = load_credentials(secret_id)
    return {
        c.dataset: extract_dataset(spark, files, lake, c, credentials, run_id, ingested_at)
        for c in databases
    }


if __name__ == "__main__":
    main()
