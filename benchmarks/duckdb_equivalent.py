"""The same bronze, silver and gold work as ``medallion run``, in DuckDB, on the same landing files.

Usage: .venv/bin/python benchmarks/duckdb_equivalent.py [--order-lines 1000000] [--workdir DIR]
       [--skip-medallion]

Generates ``--order-lines`` order lines (all five datasets, ``medallion.sample.generate``) into
``<workdir>/lake/landing``, then, in the same run and on the same files:

- ``medallion run --lake <workdir>/lake`` (the user's command, in its own process: bronze,
  silver, gold, crawlers and views), timed from start to exit;
- :func:`run_all` below, timed the same way, writing under ``<workdir>/duckdb``;

and prints both times and their ratio (target: medallion within 15 times DuckDB), then compares
the two gold results (revenue by day, RFM segment counts, product and cohort totals).

What DuckDB does, layer by layer, as the contracts (``contracts/*.yaml``) say:

- bronze: every line of every landing file becomes one Parquet row of strings (a malformed CSV
  line or JSON line is kept whole in ``_corrupt_record``), with the file, line and run;
- silver: the typed columns (the contract's formats; an integer written 17850.0 is an integer),
  derived columns (the contract's Spark SQL, translated by sqlglot), every row rule with its NULL
  policy and ``where`` (error rules and unparseable or malformed lines quarantine a row, warn rules
  are listed in ``dq_warnings``), the dataset rules' measures, exact-duplicate removal (order
  lines) or latest record per key, PII columns replaced by salted SHA-256, Parquet partitioned by
  the business date, and the quarantine written beside it;
- gold: every mart of jobs/gold read from the silver Parquet (``benchmarks/duckdb_marts.py``),
  including the customer-value fits, which run the project's own NumPy/SciPy fitting code on
  histories grouped by DuckDB (as the gold job does on its driver).

Not reproduced: the run ledger, the schema-drift check and the catalog (the crawlers' and views'
work is in medallion's time only).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import duckdb_marts
from duckdb_sql import checks_sql, literal, measures_sql, quoted, raw_name, typed_select

from jobs.common.contracts import Contract, load_contracts_dir

REPO = Path(__file__).resolve().parents[1]
LINEAGE = ("_ingest_run_id", "_ingest_file", "_ingest_line", "_ingest_at")
TARGET_RATIO = 15.0
RUN_ID = "duckdb"


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The one value a query returns."""
    row = con.sql(sql).fetchone()
    assert row is not None, sql
    return row[0]


def connect(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A connection with UTC as its time zone, as the Spark jobs' session has."""
    con = duckdb.connect(database)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


# --- bronze ---------------------------------------------------------------------------------
def landing_files(landing: Path, contract: Contract, ignore: Iterable[str] = ()) -> list[Path]:
    """The dataset's landing files: CSV for a CSV contract, JSON Lines for a JSON one; files
    named in ``ignore`` left out."""
    patterns = ("*.csv",) if contract.format == "csv" else ("*.jsonl", "*.json")
    folder = landing / contract.dataset
    found = (p for pattern in patterns for p in folder.rglob(pattern) if p.is_file())
    return sorted(p for p in found if p.name not in set(ignore))


def bronze_csv(con: duckdb.DuckDBPyConnection, files: list[Path], table: str) -> None:
    """Every line of the CSV files as strings; a malformed line whole in _corrupt_record."""
    with files[0].open(encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    columns = "{" + ", ".join(f"{literal(h)}: 'VARCHAR'" for h in header) + "}"
    paths = "[" + ", ".join(literal(str(p)) for p in files) + "]"
    rejects, scans = f"{table}_rejects", f"{table}_scans"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table}_good AS
        SELECT * EXCLUDE (filename), filename AS _ingest_file,
               row_number() OVER (PARTITION BY filename) + 1 AS _ingest_line
        FROM read_csv({paths}, header = true, delim = ',', quote = '"', escape = '"',
                      columns = {columns}, auto_detect = false, filename = true,
                      store_rejects = true, rejects_table = '{rejects}',
                      rejects_scan = '{scans}')""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT *, NULL::VARCHAR AS _corrupt_record FROM {table}_good
        UNION ALL BY NAME
        SELECT s.file_path AS _ingest_file, e.line AS _ingest_line,
               any_value(e.csv_line) AS _corrupt_record
        FROM {rejects} e JOIN {scans} s USING (scan_id, file_id)
        GROUP BY ALL""")
    con.execute(f"DROP TABLE {table}_good")


def bronze_jsonl(
    con: duckdb.DuckDBPyConnection, files: list[Path], table: str, fields: Iterable[str]
) -> None:
    """Every non-blank line of the JSON Lines files; a line that is not a JSON object whole in
    _corrupt_record, the fields of one that is as strings."""
    paths = "[" + ", ".join(literal(str(p)) for p in files) + "]"
    values = ", ".join(
        f"CASE WHEN ok THEN json_extract_string(line, {literal('$.' + f)}) END AS {quoted(f)}"
        for f in fields
    )
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT {values}, CASE WHEN NOT ok THEN line END AS _corrupt_record,
               filename AS _ingest_file, n AS _ingest_line
        FROM (SELECT *,
                     CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END
                         AS ok
              FROM (SELECT filename, unnest(lines) AS line, unnest(range(1, len(lines) + 1)) AS n
                    FROM (SELECT filename, string_split(content, chr(10)) AS lines
                          FROM read_text({paths})))
              WHERE trim(line) <> '')""")


def bronze(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    lake: Path,
    contract: Contract,
    ignore: Iterable[str] = (),
) -> int:
    """Ingest a dataset's landing files into bronze Parquet; the rows written (0: no files)."""
    files = landing_files(landing, contract, ignore)
    if not files:
        return 0
    table = f"bronze_{contract.dataset}"
    if contract.format == "csv":
        bronze_csv(con, files, table)
    else:
        bronze_jsonl(con, files, table, contract.source_columns)
    folder = lake / "bronze" / contract.dataset / f"ingest_date={date.today().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    con.execute(f"""
        COPY (SELECT *, {literal(RUN_ID)} AS _ingest_run_id, now() AS _ingest_at,
                     {literal(RUN_ID)} AS run_id FROM {table})
        TO {literal(str(folder / "part-0.parquet"))} (FORMAT parquet)""")
    con.execute(f"DROP TABLE {table}")
    return int(scalar(con, f"SELECT count(*) FROM read_parquet({literal(str(folder))} || '/*')"))


# --- silver: publish ------------------------------------------------------------------------
def dedupe_sql(contract: Contract, clean: str) -> tuple[str, str]:
    """The published rows (duplicates removed) and the rows that were duplicates' count."""
    data = [quoted(c) for c in contract.silver_columns]
    lineage = ", ".join(f"min({quoted(c)}) AS {quoted(c)}" for c in LINEAGE)
    if contract.dedupe_strategy == "exact":
        kept = (
            f"SELECT {', '.join(data)}, first(dq_warnings) AS dq_warnings, {lineage} "
            f"FROM {clean} GROUP BY {', '.join(data)}"
        )
    else:
        order = [f"{quoted(c)} DESC NULLS LAST" for c in contract.dedupe_order_by]
        order += ["_ingest_at DESC", "_ingest_file DESC", "_ingest_line DESC"]
        key = ", ".join(quoted(c) for c in contract.key)
        kept = (
            f"SELECT {', '.join(data)}, dq_warnings, {', '.join(LINEAGE)} FROM {clean} "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {', '.join(order)}) = 1"
        )
    return kept, f"SELECT count(*) FROM {clean}"


def published_select(contract: Contract, kept: str, salt: str) -> str:
    """The kept rows with PII hashed and the business-date partition columns."""
    pii = set(contract.pii)
    columns = [
        f"CASE WHEN {quoted(c)} IS NOT NULL THEN sha256({literal(salt)} || "
        f"CAST({quoted(c)} AS VARCHAR)) END AS {quoted(c)}"
        if c in pii
        else quoted(c)
        for c in contract.silver_columns
    ]
    day = f"CAST({quoted(contract.business_date)} AS DATE)"
    parts = {"year": f"year({day})", "month": f"month({day})", "day": f"day({day})"}
    partitions = [f"{parts[p]} AS {p}" for p in contract.partition_columns]
    return (
        f"SELECT {', '.join(columns)}, dq_warnings, {', '.join(LINEAGE)}, "
        f"{', '.join(partitions)} FROM ({kept})"
    )


def silver(
    con: duckdb.DuckDBPyConnection, lake: Path, contract: Contract, references: set[str], salt: str
) -> dict[str, Any]:
    """Type, check, quarantine, deduplicate and publish one dataset from its bronze Parquet."""
    name = contract.dataset
    source = f"read_parquet({literal(str(lake / 'bronze' / name))} || '/*/*.parquet')"
    columns = [str(r[0]) for r in con.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    errors, warns = checks_sql(contract, references)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE checked_{name} AS
        SELECT *, list_filter([{", ".join(errors)}], x -> x IS NOT NULL) AS dq_failed_rules,
               list_filter([{", ".join(warns) or "NULL"}]::VARCHAR[], x -> x IS NOT NULL)
                   AS dq_warnings
        FROM ({typed_select(contract, source, columns)})""")
    measures = con.sql(
        f"SELECT {', '.join(measures_sql(contract, references))} FROM checked_{name}"
    ).fetchone()
    (lake / "quarantine" / name).mkdir(parents=True, exist_ok=True)
    con.execute(f"""
        COPY (SELECT {", ".join(quoted(raw_name(c)) for c in contract.source_columns)},
                     _corrupt_record, dq_failed_rules, {", ".join(LINEAGE)}
              FROM checked_{name} WHERE len(dq_failed_rules) > 0)
        TO {literal(str(lake / "quarantine" / name / "part-0.parquet"))} (FORMAT parquet)""")
    clean = f"(SELECT * FROM checked_{name} WHERE len(dq_failed_rules) = 0)"
    kept, _ = dedupe_sql(contract, clean)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE silver_{name} AS {published_select(contract, kept, salt)}"
    )
    target = lake / "silver" / name
    target.mkdir(parents=True, exist_ok=True)
    con.execute(f"""
        COPY silver_{name} TO {literal(str(target))}
        (FORMAT parquet, PARTITION_BY ({", ".join(contract.partition_columns)}),
         OVERWRITE_OR_IGNORE)""")
    con.execute(f"DROP TABLE checked_{name}")
    rows_in, quarantined = int(measures[0]), int(measures[1])  # type: ignore[index]
    rows_silver = int(scalar(con, f"SELECT count(*) FROM silver_{name}"))
    return {
        "rows_in": rows_in,
        "rows_silver": rows_silver,
        "rows_quarantined": quarantined,
        "rows_duplicate": rows_in - quarantined - rows_silver,
    }


def silver_order(contracts: dict[str, Contract]) -> list[str]:
    """Datasets whose silver others' rules look up (products) first."""
    referenced = {
        r.reference.dataset
        for c in contracts.values()
        for r in (*c.row_rules, *c.dataset_rules)
        if r.reference
    }
    return sorted(contracts, key=lambda name: (name not in referenced, name))


def run_all(
    landing: Path,
    lake: Path,
    contracts_dir: Path = REPO / "contracts",
    observation_end: date | None = None,
    ignore: Iterable[str] = (),
) -> dict[str, Any]:
    """Bronze, silver and gold of every dataset in DuckDB (landing files named in ``ignore``
    left out); per-layer seconds and row counts."""
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    contracts = load_contracts_dir(contracts_dir)
    salt = os.environ.get("MEDALLION_PII_SALT") or secrets.token_hex(16)
    con = connect()
    seconds: dict[str, float] = {}
    started = time.monotonic()
    rows = {name: bronze(con, landing, lake, c, ignore) for name, c in contracts.items()}
    seconds["bronze"] = time.monotonic() - started
    present = {name for name, n in rows.items() if n}
    summaries: dict[str, Any] = {}
    for name in silver_order(contracts):
        if name in present:
            summaries[name] = silver(con, lake, contracts[name], present & set(summaries), salt)
    seconds["silver"] = time.monotonic() - started - seconds["bronze"]
    con.close()
    gold = duckdb_marts.build_gold(connect(), lake, observation_end)
    seconds["gold"] = time.monotonic() - started - seconds["bronze"] - seconds["silver"]
    seconds["total"] = time.monotonic() - started
    return {
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "bronze_rows": rows,
        "silver": summaries,
        "gold": gold,
    }


# --- the command ----------------------------------------------------------------------------
def timed_medallion(lake: Path, landing: Path, log: Path) -> dict[str, Any]:
    """``medallion run --lake LAKE --landing LANDING``, from start to exit, with its peak."""
    from incremental_benchmark import load_average, medallion_run

    load = load_average()
    figures = medallion_run(lake, landing, "medallion", log)
    return {
        "seconds": figures.seconds,
        "peak_gib": figures.peak_gib,
        "states": figures.states,
        "load": load,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order-lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/medallion-duckdb-bench"))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    from incremental_benchmark import load_average

    from medallion.sample.generate import generate

    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    lake, landing = workdir / "lake", workdir / "landing"
    generate(landing, args.order_lines, args.seed)
    print(f"{args.order_lines:,} order lines generated into {landing}", flush=True)
    medallion = timed_medallion(lake, landing, workdir / "medallion.log")
    print(
        f"medallion run: {medallion['seconds']:.1f} s, peak {medallion['peak_gib']:.2f} GiB "
        f"({medallion['load']})",
        flush=True,
    )
    load = load_average()
    started = time.monotonic()
    result = run_all(landing, workdir / "duckdb")
    duck_s = round(time.monotonic() - started, 1)
    ratio = medallion["seconds"] / duck_s
    print(f"DuckDB: {duck_s:.1f} s ({result['seconds']}) ({load})")
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"ratio medallion / DuckDB: {ratio:.1f} (target <= {TARGET_RATIO:.0f}: {verdict})")
    same = duckdb_marts.compare_gold(lake, workdir / "duckdb")
    print(
        "gold totals equal: " + ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in same.items())
    )
    record = {
        "order_lines": args.order_lines,
        "medallion": medallion,
        "duckdb_seconds": duck_s,
        "duckdb": result,
        "ratio": round(ratio, 2),
        "gold_equal": same,
    }
    if args.json:
        args.json.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return record


if __name__ == "__main__":
    main()
