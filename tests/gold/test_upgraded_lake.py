"""A lake an earlier version of gold wrote goes on working after an upgrade, through the
user's command.

Gold before state version 4 kept the customer summary's invoice bound as text; today's reads it
as a (length, number) pair. Read with today's types, the old files failed the next delivery's
gold job with ``ClassCastException: optional binary max_invoice_bound (STRING) is not a group``
(seen on the benchmark's lakes). An upgraded lake is rebuilt once, saying why, and later
deliveries are incremental again.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from gold_support import Deliveries, Source, run_layers
from typer.testing import CliRunner

from medallion.cli import app
from medallion.local.jobrunner import JobResult

pytestmark = pytest.mark.slow


def medallion_run(lake: Path, landing: Path, run_id: str) -> str:
    done = CliRunner().invoke(
        app, ["run", "--lake", str(lake), "--landing", str(landing), "--run-id", run_id]
    )
    assert done.exit_code == 0, done.output
    return done.output


def gold_record(lake: Path, run_id: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(
        (lake / "_meta" / "gold" / "runs" / f"{run_id}.json").read_text()
    )
    return record


def as_earlier_version_wrote_it(lake: Path) -> None:
    """State version 3, and the summary's invoice bound as text, as gold wrote both then."""
    state_file = lake / "_meta" / "gold" / "state.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "version": 3}))
    # Rewritten here, not through Hadoop: its checksum files would no longer match.
    for checksum in (lake / "_meta" / "gold").rglob(".*.crc"):
        checksum.unlink()
    files = list((lake / "_meta" / "gold" / "customer_summary").rglob("*.parquet"))
    assert files
    for path in files:
        table = pq.read_table(path)
        bound = table.column("max_invoice_bound").combine_chunks().field("number")
        index = table.schema.get_field_index("max_invoice_bound")
        pq.write_table(
            table.set_column(index, pa.field("max_invoice_bound", pa.string()), bound), path
        )


def test_an_upgraded_lake_is_rebuilt_once_then_runs_incrementally(
    tmp_path: Path, job_runner: Callable[..., JobResult]
) -> None:
    source = Source.generated(tmp_path / "source", 400, seed=17)
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    source.land_initial(landing)
    deliveries = Deliveries(source, landing, random.Random(17))
    # The lake as the earlier version's runs left it (the jobs alone: the upgrade is the
    # next `medallion run`'s).
    run_layers(job_runner, lake, landing, "built")
    as_earlier_version_wrote_it(lake)

    deliveries.land(("new_days",))
    output = medallion_run(lake, landing, "upgraded")
    because = "gold's tables were written with state version 3, today's is 4"
    assert gold_record(lake, "upgraded")["full_because"] == because
    assert f"rebuilt every mart from the whole of silver: {because}" in " ".join(output.split())

    # The next delivery's jobs (on the shared warm host, as a run launches them) find the
    # lake upgraded: incremental again.
    deliveries.land(("new_days",))
    summary = run_layers(job_runner, lake, landing, "next")
    record = gold_record(lake, "next")
    assert (record["mode"], record["full_because"]) == ("incremental", None)
    assert summary["mode"] == "incremental"  # medallion run says nothing of a rebuild
    assert record["customer_summary"] == "updated"
