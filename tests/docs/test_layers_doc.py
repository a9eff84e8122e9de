"""docs/layers.md says what the code writes: the manifest's fields, silver's partitions."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from jobs.bronze.ingest import manifest_entry
from jobs.common.config import default_contracts_dir
from jobs.common.contracts import load_contracts
from jobs.common.lake import FileInfo

DOC = (Path(__file__).resolve().parents[2] / "docs" / "layers.md").read_text(encoding="utf-8")
PARTITIONS = {"day": "year=/month=/day=", "month": "year=/month=", "year": "year="}


def test_the_manifest_fields_are_the_ones_bronze_writes() -> None:
    paragraph = DOC[DOC.index("one JSON line per file with the fields") :].split("\n\n")[0]
    named = re.findall(r"`([a-z_]+)`", paragraph)
    # The status values and bronze's column named in passing are not fields.
    statuses = {
        "ingested", "skipped_empty", "skipped_header_only", "refused_not_text",
        "refused_unreadable",
    }  # fmt: skip
    documented = [n for n in named if n not in statuses and not n.startswith("_")]
    path = "file:/landing/order_lines/a.csv"
    written = [
        manifest_entry(
            FileInfo(path, 10, 1), {}, ["InvoiceNo"], "r1", "csv", datetime(2026, 12, 1), refused
        )
        for refused in (None, {path: "not text: a PDF document"})
    ]
    # A refused file's entry has one field more, named last ("and for a refused file").
    assert documented == [*written[0], "reason"] == list(written[1])
    assert written[1]["status"] == "refused_not_text"


def test_silver_partitions_are_the_contracts_granularity() -> None:
    root = Path(default_contracts_dir())
    contracts = load_contracts({p.name: p.read_text() for p in root.glob("*.yaml")})
    table = dict(re.findall(r"^\| (\w+) \| (year=[/a-z=]*) \|$", DOC, flags=re.M))
    assert table == {name: PARTITIONS[c.partitioning] for name, c in contracts.items()}
