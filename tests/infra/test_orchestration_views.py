"""The views of the rendered stack are created in the stack's own gold database."""

from __future__ import annotations

import json
import re

import pytest

from medallion.access.mapping import definition_tasks
from medallion.aws.stackmodel import model_for
from medallion.spec.views import view_files


@pytest.mark.parametrize("prefix", ["", "acme_"])
def test_every_view_is_created_in_the_gold_database_the_stack_defines(prefix: str) -> None:
    model = model_for("dev", {"DatabasePrefix": prefix})
    gold = model.properties("GoldDatabase")["DatabaseInput"]["Name"]
    assert gold == f"{prefix}gold"
    definition = json.loads(model.properties("PipelineStateMachine")["DefinitionString"])
    created = {}
    for _, state in definition_tasks(definition):
        query = state.get("Parameters", {}).get("QueryString", "")
        match = re.match(r"CREATE OR REPLACE VIEW (\w+)\.(\w+) AS", query)
        if match:
            created[match.group(2)] = match.group(1)
            assert state["Parameters"]["QueryExecutionContext"]["Database"] == gold
    assert created == {path.stem: gold for path in view_files()}
