"""Gold's tables keep the layout their state version promises.

An incremental gold run reads the tables an earlier run left (its customer summary, activity,
the marts' untouched partitions) with the types today's code expects. A lake written by an
earlier version with another layout would be read wrong: a string column read as a struct fails
the run with a ClassCastException deep in Parquet. ``STATE_VERSION`` (jobs/gold/changes.py) is
what tells the two apart: a state of another version makes the next run a full refresh. This
test reads the layout of every table of a real run's gold (``pipeline_lake``) and compares it
with ``table_layouts.json``, recorded with the version it belongs to: a layout that changed under
the same version fails here, before a user's lake does.

After a deliberate change: bump ``STATE_VERSION`` and record the layouts again with
``MEDALLION_RECORD_LAYOUTS=1 ./scripts/test.sh tests/gold/test_table_layouts.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from gold_support import table_files

from jobs.gold.changes import STATE_VERSION

RECORDED = Path(__file__).with_name("table_layouts.json")
ROOTS = ("gold", "_meta/gold")


def layout(table: Path) -> list[str]:
    """A table's columns as its Parquet files store them (one file's schema, every file is
    written by one query) and its partition columns from its folder names."""
    files = table_files(table)
    schema = pq.read_schema(files[0])
    columns = [f"{f.name}: {f.type}{'' if f.nullable else ' not null'}" for f in schema]
    partitions = [p.split("=", 1)[0] for p in files[0].relative_to(table).parts[:-1] if "=" in p]
    return columns + [f"partition {name}" for name in partitions]


def lake_layouts(lake: Path) -> dict[str, list[str]]:
    return {
        f"{root}/{table.name}": layout(table)
        for root in ROOTS
        for table in sorted((lake / root).iterdir())
        if table.is_dir() and not table.name.startswith(("_", ".")) and table.name != "runs"
    }


def test_gold_tables_have_the_layout_of_their_state_version(pipeline_lake: Path) -> None:
    layouts = lake_layouts(pipeline_lake)
    assert {"_meta/gold/customer_summary", "gold/sales_daily"} <= set(layouts)
    if os.environ.get("MEDALLION_RECORD_LAYOUTS") == "1":
        RECORDED.write_text(
            json.dumps({"version": STATE_VERSION, "tables": layouts}, indent=1) + "\n"
        )
    recorded = json.loads(RECORDED.read_text(encoding="utf-8"))
    if recorded["version"] != STATE_VERSION:
        pytest.fail(
            f"STATE_VERSION is {STATE_VERSION}, the layouts were recorded for "
            f"{recorded['version']}: record them again (see this module's docstring)"
        )
    changed = sorted(
        name
        for name in set(layouts) | set(recorded["tables"])
        if layouts.get(name) != recorded["tables"].get(name)
    )
    assert not changed, (
        f"gold tables changed layout under STATE_VERSION {STATE_VERSION}: {changed}. A lake "
        "an earlier run wrote would be read with the new types; bump STATE_VERSION in "
        "jobs/gold/changes.py and record the layouts again (this module's docstring)"
    )
