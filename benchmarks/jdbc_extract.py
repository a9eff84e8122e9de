"""Benchmark: extract N order lines from a local PostgreSQL into bronze; print rows/s and memory.

Usage: .venv/bin/python benchmarks/jdbc_extract.py [--order-lines 1000000] [--partitions 2]
       [--postgres URL] [--workdir DIR]

Without --postgres a throwaway server is started on 127.0.0.1 (medallion/sample/pgserver.py)
and stopped at the end. The order lines are generated, loaded into ``bench.order_lines`` (the
export's columns as text and a ``row_id``), and the bronze job runs once, as `medallion run`
launches it (a fresh process from jobs.zip, the JDBC driver on its Spark), with a contract that
reads the table by ``row_id`` in ``--partitions`` ranges. Rows/s is over the whole job run, the
JVM's start included. Peak memory is the largest resident set of the job's process tree (its
Python and its JVM) sampled every 100 ms from /proc; the database server is not in it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from pipeline_benchmark import tree_rss

from jobs.common.contracts import default_contracts_dir
from medallion.local.jobrunner import run_job
from medallion.sample.generate import generate
from medallion.sample.pgserver import LocalPostgres
from medallion.sample.postgres import database_contract, load_dataset, write_database_contracts

SCHEMA = "bench"


class JobPeakMemory:
    """The largest resident set of this process's children and their descendants (the job's
    process and its JVM), sampled every 100 ms; this process's own memory is left out."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()) - tree_rss_of_self())
            time.sleep(0.1)

    def __enter__(self) -> JobPeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_rss_of_self() -> int:
    """This process's own resident bytes."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def load(url: str, landing: Path) -> tuple[int, float]:
    """Load the generated order lines into bench.order_lines; rows and seconds."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}".encode())
        table = load_dataset(conn, SCHEMA, "order_lines", landing / "order_lines/order_lines.csv")
    return table.rows, time.perf_counter() - started


def write_contract(directory: Path, rows: int, partitions: int) -> None:
    """Every dataset's database contract (order lines' rules look up products), order lines'
    read in ``partitions`` ranges of row_id; only order lines is extracted."""
    write_database_contracts(default_contracts_dir(), directory, SCHEMA)
    shipped = (default_contracts_dir() / "order_lines.yaml").read_text(encoding="utf-8")
    text = database_contract(shipped, SCHEMA, "order_lines")
    if partitions > 1:
        text += (
            f"  partition_column: row_id\n  lower_bound: 1\n  upper_bound: {rows}\n"
            f"  num_partitions: {partitions}\n"
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "order_lines.yaml").write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--postgres", default="", help="a database URL; default: a local server")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="medallion-jdbc-bench-"))
    server = None if args.postgres else LocalPostgres().start()
    url = args.postgres or (server.url() if server else "")
    try:
        generate(work / "landing", args.order_lines, seed=42)
        rows, load_seconds = load(url, work / "landing")
        write_contract(work / "contracts", rows, args.partitions)
        options = {
            "lake_root": str(work / "lake"),
            "run_id": "bench-1",
            "contracts_root": str(work / "contracts"),
            "datasets": "order_lines",
        }
        with JobPeakMemory() as memory:
            result = run_job("bronze", options, env={"MEDALLION_DB_URL": url})
        if result.state != "SUCCEEDED":
            raise SystemExit(f"bronze failed: {result.error_message}")
        extracted = result.summary["datasets"]["order_lines"]["rows"]  # type: ignore[index]
        figures = {
            "order_lines_generated": args.order_lines,
            "rows_in_table": rows,
            "load_seconds": round(load_seconds, 1),
            "rows_extracted": extracted,
            "partitions": args.partitions,
            "bronze_job_seconds": round(result.seconds, 1),
            "rows_per_second": round(int(extracted) / result.seconds),
            "peak_rss_mib": round(memory.peak / 2**20),
        }
        print(json.dumps(figures, indent=2))
    finally:
        if server is not None:
            server.stop()
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
