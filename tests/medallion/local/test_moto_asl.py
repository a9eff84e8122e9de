"""Patch 8 (medallion/local/moto_asl.py): a definition is parsed once for its creation and first
execution, each execution still gets a tree of its own, a parse is kept for the next run of the
same definition (and only for it, and only by this moto), a bad definition is refused as moto
refuses it, and uninstall gives moto's two parses back."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend import execution_worker

from medallion.local import moto_asl, moto_patches

ROLE = "arn:aws:iam::123456789012:role/medallion-test"
# A Pass state whose output depends on the input: two executions of one tree would show it.
ECHO = {
    "StartAt": "Echo",
    "States": {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$.value"}, "End": True}},
}


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[int]]:
    """Counts moto's parses of a definition (each call of the ASL parser); parses are kept in a
    folder of the test's own."""
    monkeypatch.setattr(moto_asl, "PARSES", tmp_path / "asl")
    calls: list[int] = []
    original = AmazonStateLanguageParser.parse

    def counted(definition: str) -> Any:
        calls.append(len(definition))
        return original(definition)

    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counted))
    yield calls
    moto_patches.uninstall()


def run(sfn: Any, arn: str, name: str, value: int) -> dict[str, Any]:
    execution = sfn.start_execution(
        stateMachineArn=arn, name=name, input=json.dumps({"value": value})
    )
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution["executionArn"]))[
        "status"
    ] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return described


def create_and_run_twice(calls: list[int]) -> tuple[list[int], list[dict[str, Any]]]:
    """Parses counted after the creation and after each of two executions, and their outputs."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name="m", definition=json.dumps(ECHO), roleArn=ROLE)[
            "stateMachineArn"
        ]
        counts = [len(calls)]
        outputs = []
        for number in (1, 2):
            described = run(sfn, arn, f"e-{number}", number * 10)
            assert described["status"] == "SUCCEEDED", described
            outputs.append(json.loads(described["output"]))
            counts.append(len(calls))
    return counts, outputs


def test_the_validation_tree_serves_the_first_execution_and_the_next_loads_the_kept_parse(
    parses: list[int],
) -> None:
    moto_patches.install()
    counts, outputs = create_and_run_twice(parses)
    assert counts == [1, 1, 1]
    assert outputs == [{"got": 10}, {"got": 20}]
    assert len(list(moto_asl.PARSES.glob("*.pickle"))) == 1


def test_a_later_run_of_the_same_definition_parses_nothing(parses: list[int]) -> None:
    moto_patches.install()
    create_and_run_twice(parses)
    moto_patches.uninstall()  # a new process: no tree in memory, the kept parse on disk
    moto_patches.install()
    counts, outputs = create_and_run_twice(parses)
    assert counts == [1, 1, 1]  # the first run's one parse only
    assert outputs == [{"got": 10}, {"got": 20}]


def test_a_parse_kept_by_another_moto_or_unreadable_is_parsed_again(
    parses: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    moto_patches.install()
    create_and_run_twice(parses)
    [kept] = moto_asl.PARSES.glob("*.pickle")
    monkeypatch.setattr(moto_asl.moto, "__version__", "0.0.0-other")
    moto_patches.uninstall()
    moto_patches.install()
    assert create_and_run_twice(parses)[0] == [2, 2, 2]  # another moto: parsed, and kept apart
    assert len(list(moto_asl.PARSES.glob("*.pickle"))) == 2
    for path in moto_asl.PARSES.glob("*.pickle"):
        path.write_bytes(b"not a pickle")
    moto_patches.uninstall()
    moto_patches.install()
    counts, outputs = create_and_run_twice(parses)
    assert counts == [3, 3, 3] and outputs == [{"got": 10}, {"got": 20}]
    assert kept.read_bytes() == b"not a pickle"  # the other moto's file is left alone


def test_uninstalled_moto_parses_at_creation_and_at_every_execution(parses: list[int]) -> None:
    moto_patches.uninstall()
    counts, outputs = create_and_run_twice(parses)
    assert counts == [1, 2, 3]
    assert outputs == [{"got": 10}, {"got": 20}]


def test_a_definition_that_does_not_parse_is_refused_as_moto_refuses_it() -> None:
    bad = '{"StartAt": "Nowhere", "States": {"Nowhere": {"Type": "Teleport", "End": true}}}'

    def refusal() -> dict[str, Any]:
        engine = {"stepfunctions": {"execute_state_machine": True}}  # the parser's backend
        with mock_aws(config=engine), pytest.raises(ClientError) as caught:
            boto3.client("stepfunctions", region_name="us-east-1").create_state_machine(
                name="m", definition=bad, roleArn=ROLE
            )
        return caught.value.response["Error"]

    moto_patches.uninstall()
    shipped = refusal()
    moto_patches.install()
    try:
        assert refusal() == shipped
        assert (
            shipped["Message"].startswith("ASLParserException") and "Teleport" in shipped["Message"]
        )
    finally:
        moto_patches.uninstall()


def test_the_patched_moto_functions_keep_their_shape() -> None:
    moto_patches.uninstall()
    validate = inspect.getattr_static(
        parser_models.StepFunctionsParserBackend, "_validate_definition"
    )
    assert isinstance(validate, staticmethod)
    assert list(inspect.signature(validate.__func__).parameters) == ["definition"]
    entrypoint = execution_worker.ExecutionWorker._get_evaluation_entrypoint
    assert list(inspect.signature(entrypoint).parameters) == ["self"]
    assert "state_machine_details.definition" in inspect.getsource(entrypoint)
