"""Snapshot of the dev template; regenerate with ``UPDATE_SNAPSHOTS=1 pytest tests/infra``.

The state machine definition, the named queries and the quality tables' columns come from
statemachine/, sql/ and jobs.common.records, which have their own tests; they are replaced by
markers here so the snapshot shows this stack's own changes.
test_template_resources.py checks that they are embedded as rendered.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

from infra.stack import render

SNAPSHOT = Path(__file__).parent / "snapshots" / "dev.json"
DEFINITION_MARKER = "<medallion.spec.definition.render_definition(...), compacted>"
COLUMNS_MARKER = "<jobs.common.records.glue_columns(table)>"


def normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The template without the parts other modules own."""
    resources = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Athena::NamedQuery":
            continue
        if resource["Type"] == "AWS::Glue::Table":
            resource = json.loads(json.dumps(resource))
            descriptor = resource["Properties"]["TableInput"]["StorageDescriptor"]
            descriptor["Columns"] = COLUMNS_MARKER
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            definition = resource["Properties"]["DefinitionString"]["Fn::Sub"]
            resource = json.loads(json.dumps(resource))
            resource["Properties"]["DefinitionString"]["Fn::Sub"] = [
                DEFINITION_MARKER,
                definition[1],
            ]
        resources[logical_id] = resource
    return {**template, "Resources": resources}


def test_dev_template_matches_the_snapshot() -> None:
    current = json.dumps(normalized(json.loads(render("dev"))), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current, encoding="utf-8")
    assert SNAPSHOT.exists(), f"no snapshot yet: run with UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
    expected = SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            current.splitlines(keepends=True),
            "snapshots/dev.json",
            "rendered",
            n=2,
        )
    )
    assert not diff, f"the template changed (UPDATE_SNAPSHOTS=1 to accept):\n{diff[:6000]}"
