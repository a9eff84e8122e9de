"""Silver's quality records as written: every key in the one definition, readable by DuckDB."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from pyspark.sql import SparkSession

from jobs.common.lake import LakeFiles, LakePaths
from jobs.common.quality import SchemaDrift, Verdict
from jobs.common.records import duckdb_columns, glue_columns
from jobs.silver.ledger import Outcome, run_summary, write_records


def test_what_the_writer_writes_is_what_the_definition_defines(
    spark: SparkSession, tmp_path: Path
) -> None:
    verdicts = [
        Verdict("t_k_not_null", "not_null", "row", "error", "k", 4, 1, None, "fail", "1 of 4"),
        Verdict("t_fresh", "freshness", "dataset", "warn", "d", 1, 1, 7.0, "warn", "old"),
    ]
    drift = SchemaDrift(2, {"Gift Note": ["b.csv"]}, {})
    outcome = Outcome(
        ["r1", "r1.2"],
        {"rows_in": 5, "quarantined": 1, "flagged": 0, "clean": 4},
        verdicts,
        {"rows_silver": 3, "rows_duplicate": 1, "partitions": ["2024-03-01"]},
        [],
        drift,
    )
    summary = run_summary("r2", "t", outcome, "2024-03-10T00:00:00", "2024-03-10T00:01:00")
    lake = LakePaths(str(tmp_path))
    write_records(LakeFiles(spark), lake, "r2", "t", verdicts, summary)
    for table, name in (("quality_results", "results"), ("quality_runs", "summary")):
        path = tmp_path / "quality" / table.removeprefix("quality_") / "dataset=t" / "run_id=r2"
        # Each attempt writes a file of its own: <name>-<attempt>.json.
        [record_file] = path.glob(f"{name}-*.json")
        written = [json.loads(line) for line in record_file.read_text().splitlines()]
        assert written and all(set(r) == {n for n, _ in glue_columns(table)} for r in written)
        columns = ", ".join(f"'{n}': '{t}'" for n, t in duckdb_columns(table))
        rows = duckdb.sql(
            f"select * from read_json('{path}/*.json', format = 'newline_delimited', "
            f"columns = {{{columns}}})"
        ).fetchall()
        assert len(rows) == len(written)
    assert summary["published"] is True and summary["warned_rules"] == ["t_fresh"]
    assert summary["status"] == "warned"
    assert summary["schema_drift"] == {"appeared": {"Gift Note": ["b.csv"]}, "disappeared": {}}
