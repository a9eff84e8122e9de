"""``medallion dashboard --aws``: where the pages will query, read once from the stack, and the
one-line errors when it cannot be; the Streamlit command it builds (127.0.0.1 unless told)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from medallion.cli import app
from medallion.cli.commands.dashboard import athena_source, streamlit_command

runner = CliRunner()


@pytest.fixture
def moto_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    moto = pytest.importorskip("moto")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        import boto3

        template = {
            "Resources": {"Lake": {"Type": "AWS::S3::Bucket"}},
            "Outputs": {
                "AthenaWorkGroupName": {"Value": "medallion-dev-analysts"},
                "GoldDatabaseName": {"Value": "medallion_dev_gold"},
            },
        }
        boto3.client("cloudformation").create_stack(
            StackName="medallion-dev", TemplateBody=json.dumps(template)
        )
        yield


def test_the_stack_names_the_workgroup_and_database(moto_stack: None) -> None:
    where = athena_source("dev", None, None, "us-east-1", None, None)
    assert (where.name, where.database) == ("medallion-dev-analysts", "medallion_dev_gold")
    given = athena_source("dev", "wg", None, "us-east-1", None, None)
    assert (given.name, given.database) == ("wg", "medallion_dev_gold")
    argv = streamlit_command(None, 8600, where=where)
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("--") + 1 :] == [
        "--aws", "--workgroup", "medallion-dev-analysts", "--database", "medallion_dev_gold",
        "--region", "us-east-1",
    ]  # fmt: skip


def test_an_unknown_environment_is_one_line(moto_stack: None) -> None:
    result = runner.invoke(app, ["dashboard", "--aws", "--env", "nope", "--region", "us-east-1"])
    assert result.exit_code == 3
    assert "cannot read the stack of environment 'nope'" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_aws_needs_a_workgroup_or_an_environment() -> None:
    result = runner.invoke(
        app, ["dashboard", "--aws"], env={"MEDALLION_WORKGROUP": "", "MEDALLION_ENV": ""}
    )
    assert result.exit_code == 2
    assert "--workgroup" in result.output


def test_another_address_is_bound_only_when_asked() -> None:
    argv = streamlit_command(None, 8600, address="0.0.0.0")
    assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
