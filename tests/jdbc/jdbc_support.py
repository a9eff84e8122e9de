"""What the database-source tests share: the test table and contract, and ``Shop``, one test's
schema in the server with its contracts, lake and job runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from medallion.local.jobhost import JobHostRunner
from medallion.local.jobrunner import JobResult
from medallion.sample.pgserver import LocalPostgres

CONTRACT = """\
dataset: customers
description: Customers from the shop database; the latest row per customer wins.
grain: one customer
source:
  engine: postgresql
  schema: {schema}
  table: customers
  mode: {mode}
{load}
columns:
  - {{source: customer_id, name: customer_id, type: bigint}}
  - {{source: name, name: customer_name, type: string}}
  - {{source: country, name: country, type: string}}
  - {{source: signup_date, name: signup_date, type: date, format: "yyyy-MM-dd"}}
  - source: updated_at
    name: updated_at
    type: timestamp
    format: ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.SSSSSS"]
  - {{source: credit, name: credit, type: "decimal(12,2)"}}
  - {{source: is_deleted, name: is_deleted, type: boolean}}
{extra}
key: [customer_id]
deduplicate: {{strategy: latest_per_key, order_by: [updated_at]}}
partitioning: month
business_date: signup_date
# A contract without a warn-severity row rule makes silver write dq_warnings as ARRAY<VOID>,
# which Parquet refuses (a silver issue of its own, not of the database path).
row_rules:
  - {{id: customers_name_not_null, type: not_null, column: customer_name, severity: warn}}
"""
INCREMENTAL = (
    "  watermark_column: updated_at\n  overlap_minutes: 60\n  soft_delete_column: is_deleted"
)
TABLE = """
CREATE SCHEMA {schema};
CREATE TABLE {schema}.customers (
    customer_id bigint PRIMARY KEY,
    name text,
    country text,
    signup_date date NOT NULL,
    updated_at timestamp NOT NULL,
    credit numeric(12, 2),
    is_deleted boolean NOT NULL DEFAULT false
);
INSERT INTO {schema}.customers
SELECT i, 'Customer ' || i, (ARRAY['France', 'Germany', 'Spain'])[1 + i % 3],
       DATE '2024-01-01' + (i % 90), TIMESTAMP '2024-06-01 08:00:00' + i * INTERVAL '1 minute',
       (i * 7.25)::numeric(12, 2), i % 17 = 0
FROM generate_series(1, {rows}) AS i;
"""


@dataclass
class Shop:
    """One test's schema in the server, its contracts directory and lake, and the runs."""

    postgres: LocalPostgres
    hosts: JobHostRunner
    root: Path
    schema: str
    runs: int = 0
    lines: list[str] = field(default_factory=list)

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def contracts(self) -> Path:
        return self.root / "contracts"

    def write_contract(self, mode: str = "incremental", extra: str = "") -> None:
        self.contracts.mkdir(exist_ok=True)
        load = INCREMENTAL if mode == "incremental" else ""
        text = CONTRACT.format(schema=self.schema, mode=mode, load=load, extra=extra)
        (self.contracts / "customers.yaml").write_text(text)

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        return self.postgres.execute(statement)

    def run(self, layer: str, env: Mapping[str, str] | None = None, **options: str) -> JobResult:
        self.runs += 1
        arguments = {
            "lake_root": str(self.lake),
            "run_id": options.pop("run_id", f"{self.schema}-{self.runs}"),
            "contracts_root": str(self.contracts),
            "landing_root": str(self.root / "landing"),
            "datasets": "customers",
            **options,
        }
        credentials = env if env is not None else {"MEDALLION_DB_URL": self.postgres.url()}
        self.lines.clear()
        return self.hosts(layer, arguments, env=credentials, on_line=self.lines.append)

    def run_both(self, **options: str) -> dict[str, JobResult]:
        results = {}
        for layer in ("bronze", "silver"):
            results[layer] = self.run(layer, None, **options)
            assert results[layer].state == "SUCCEEDED", results[layer].error_message
        return results

    def bronze(self) -> list[dict[str, Any]]:
        return read_parquet(self.lake / "bronze" / "customers")

    def silver(self) -> list[dict[str, Any]]:
        return read_parquet(self.lake / "silver" / "customers")

    def source(self) -> dict[int, tuple[Any, ...]]:
        """The table as the database has it, by key, in silver's column order."""
        rows = self.sql(
            "SELECT customer_id, name, country, signup_date, updated_at, credit, is_deleted "
            f"FROM {self.schema}.customers"
        )
        return {row[0]: row for row in rows}

    def watermark(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(
            (self.lake / "_meta" / "watermarks" / "customers.json").read_text()
        )
        return loaded


def extracted_of(bronze: JobResult) -> dict[str, Any]:
    """What the bronze run's summary says of the customers dataset."""
    datasets: dict[str, dict[str, Any]] = bronze.summary["datasets"]  # type: ignore[assignment]
    return datasets["customers"]


def read_parquet(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    frame = duckdb.sql(
        f"select * from read_parquet('{path}/**/*.parquet', hive_partitioning = true, "
        "union_by_name = true)"
    ).df()
    return list(frame.to_dict("records"))
