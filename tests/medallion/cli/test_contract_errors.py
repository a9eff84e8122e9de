"""A malformed contract is refused by ``medallion run`` before it starts, as the README says."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from medallion.cli import app

REPO = Path(__file__).resolve().parents[3]


def readme_example() -> str:
    """The malformed-contract message the README shows (the code block after its sentence)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"a malformed contract fails naming the file.*?\n```\n(.+?)\n```", text, re.S)
    assert found, "the README's malformed-contract example is gone"
    return found.group(1)


def test_a_malformed_contract_is_named_as_the_readme_shows(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    shutil.copytree(REPO / "contracts", contracts)
    reviews = contracts / "reviews.yaml"
    text = reviews.read_text(encoding="utf-8")
    rule = re.search(r"- id: reviews_rating_range\n(\s+)type: range\n", text)
    assert rule, "reviews.yaml has no range rule reviews_rating_range"
    broken = rule.group(0).replace("type: range", "type: between")
    reviews.write_text(text.replace(rule.group(0), broken))
    result = CliRunner().invoke(
        app,
        ["run", "--lake", str(tmp_path / "lake"), "--contracts", str(contracts)],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"error: {readme_example()}"
