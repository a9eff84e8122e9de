"""handled() finds the errors it turns into exit codes by module and name, so that no command
imports the AWS SDK for them: each name must stay an exception class of its module, and an error
that is a kind of two (Aborted is an AwsError) gets the first code listed for it."""

from __future__ import annotations

import importlib

import pytest
import typer

from medallion.cli.errors import HANDLED, ExitCode, exit_code_of, handled


@pytest.mark.parametrize(
    ("module", "name"), [entry for names in HANDLED.values() for entry in names]
)
def test_each_handled_error_is_an_exception_class_of_its_module(module: str, name: str) -> None:
    kind = getattr(importlib.import_module(module), name)
    assert isinstance(kind, type) and issubclass(kind, Exception)


def test_each_error_gets_its_code_and_others_pass_through() -> None:
    from medallion.aws import Aborted, AwsError, DeployInputError
    from medallion.aws.athena import QueryError
    from medallion.aws.stepfunctions import ExecutionNotFound
    from medallion.cli.errors import UsageError
    from medallion.local.lakelock import LakeBusy

    expected = {
        UsageError("u"): ExitCode.USAGE,
        DeployInputError("d"): ExitCode.USAGE,
        Aborted("a"): ExitCode.FAILED,  # an AwsError too: declining is not an AWS failure
        LakeBusy("l"): ExitCode.FAILED,
        QueryError("q"): ExitCode.FAILED,
        AwsError("w"): ExitCode.AWS,
        ExecutionNotFound("e"): ExitCode.AWS,
    }
    assert {type(e).__name__: exit_code_of(e) for e in expected} == {
        type(e).__name__: code for e, code in expected.items()
    }
    assert exit_code_of(ValueError("v")) is None
    with pytest.raises(typer.Exit) as ended, handled():
        raise LakeBusy("the lake is in use")
    assert ended.value.exit_code == ExitCode.FAILED
    with pytest.raises(KeyError), handled():
        raise KeyError("not handled: a traceback, as before")
