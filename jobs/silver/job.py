"""Glue entry script of the silver job: typed, checked, deduplicated, PII-hashed datasets."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jobs.common.args import JobArgs
from jobs.common.config import read_contracts, select_datasets
from jobs.common.contracts import Contract
from jobs.common.entry import run_main
from jobs.common.errors import ConfigurationError, QualityGateFailed
from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.runtime import get_spark, on_glue, region_of_arn
from jobs.silver.dataset import DatasetRun

LOCAL_SALT = "medallion-local-development-salt"


def main() -> None:
    """Glue entry point: run the silver job and print its summary (or its error)."""
    run_main("silver", body)


def body(argv: list[str]) -> dict[str, Any]:
    """Process every dataset's pending bronze batches; fail at the end if a gate failed.

    Parameters
    ----------
    argv : list of str
        The process arguments (Glue style: ``--lake_root``, ``--run_id``, ``--datasets``,
        ``--contracts_root``, ``--full_refresh``, ``--pii_salt_secret``).

    Returns
    -------
    dict
        run_id, datasets (each one's ``quality_runs`` summary) and absent (no bronze data).
    """
    args = JobArgs.from_argv(argv)
    spark = get_spark("medallion-silver")
    files = LakeFiles(spark)
    lake = LakePaths(args.lake_root)
    contracts = read_contracts(files, args.contracts_root)
    salt = pii_salt(args.pii_salt_secret)
    ordered = select_datasets(contracts, args.datasets)
    results: dict[str, dict[str, Any] | None] = {}
    for wave in dependency_waves(contracts, ordered):
        # Datasets of one wave do not look each other up: running them side by side keeps both
        # cores busy through each one's small, single-task stages.
        with ThreadPoolExecutor(max_workers=len(wave)) as pool:
            runs = {
                name: pool.submit(
                    DatasetRun(
                        spark, files, lake, contracts[name], args.run_id, salt, args.full_refresh
                    ).run
                )
                for name in wave
            }
            results |= {name: future.result() for name, future in runs.items()}
    summary: dict[str, Any] = {"run_id": args.run_id, "datasets": {}, "absent": []}
    failures: list[str] = []
    reasons: list[str] = []
    for dataset in ordered:
        result = results[dataset]
        if result is None:
            summary["absent"].append(dataset)
            continue
        summary["datasets"][dataset] = result
        failures += result.get("failed_rules", [])
        reasons += [f"{dataset}: {reason}" for reason in result.get("quarantine_reasons", [])]
    if failures:
        raise QualityGateFailed(failures, reasons)
    return summary


def dependency_waves(contracts: dict[str, Contract], ordered: list[str]) -> list[list[str]]:
    """Datasets grouped so that each one's references are in an earlier group."""
    level: dict[str, int] = {}
    for name in ordered:  # ordered puts references first
        refs = [level[r] for r in contracts[name].references if r in level]
        level[name] = 1 + max(refs, default=-1)
    return [[n for n in ordered if level[n] == i] for i in sorted(set(level.values()))]


def pii_salt(secret_id: str) -> str:
    """The PII salt: $MEDALLION_PII_SALT, else the secret, else (local runs only) a default."""
    if os.environ.get("MEDALLION_PII_SALT"):
        return os.environ["MEDALLION_PII_SALT"]
    if secret_id:
        import boto3  # only a job given a secret needs the AWS SDK

        return str(
            boto3.client("secretsmanager", region_name=region_of_arn(secret_id)).get_secret_value(
                SecretId=secret_id
            )["SecretString"]
        )
    if on_glue():
        raise ConfigurationError(
            "no PII salt: set --pii_salt_secret to a Secrets Manager secret id "
            "(the stack does) or MEDALLION_PII_SALT"
        )
    return LOCAL_SALT


if __name__ == "__main__":
    main()
