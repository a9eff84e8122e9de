"""One real local run, recorded: every principal's accesses are allowed by the rendered template."""

from __future__ import annotations

from pathlib import Path

import pytest

from medallion.access import mapping, model
from medallion.access.evaluate import evaluate, unused_grants
from medallion.access.record import record_run
from medallion.aws.stackmodel import model_for
from medallion.sample.generate import generate


@pytest.mark.slow
def test_every_recorded_access_is_allowed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generate(lake / "landing", order_lines=2000, seed=1)
    accesses = record_run(lake, lake / "landing")
    stack = model_for("dev")

    principals = {a.principal for a in accesses}
    assert principals == set(model.PRINCIPALS)
    assert any(
        a.resource.endswith(("_staging/checked/", "_staging/checked"))
        or "_staging/checked/" in a.resource
        for a in accesses
    )
    assert any(a.action == "secretsmanager:GetSecretValue" for a in accesses)

    denials = evaluate(mapping.collapse(accesses), stack)
    for grant in unused_grants(accesses, stack):
        print(grant)  # least privilege: what no access used (pytest -s shows them)
    assert not denials, "\n".join(str(d) for d in denials)

    shipped = {mapping.group_key(a) for a in model.load()}
    missing = [a for a in mapping.collapse(accesses) if mapping.group_key(a) not in shipped]
    assert not missing, "regenerate with python -m medallion.access.record:\n" + "\n".join(
        str(a) for a in missing[:20]
    )
