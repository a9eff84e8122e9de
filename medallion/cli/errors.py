"""One exit code per kind of error, and the one place errors become a line on stderr and a code.

====  =====================================================================================
code  meaning
====  =====================================================================================
0     done
1     it ran and failed: a pipeline run or execution did not succeed, a query failed, the
      ledger does not balance, verify found denials, a deploy or destroy was declined, a
      local run found its lake in use by another run
2     usage: a bad option or argument (Typer's own usage errors are 2 too), or an input the
      command needs is missing (no lake at --lake)
3     AWS: no credentials or region, no such stack or state machine, AWS refused a call
====  =====================================================================================
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import typer
from rich.markup import escape

from medallion.cli.output import console


class ExitCode(IntEnum):
    """The process exit codes of ``medallion``."""

    OK = 0
    FAILED = 1
    USAGE = 2
    AWS = 3


class UsageError(Exception):
    """The command line asks for something that cannot be done as given."""


def exit_with(code: ExitCode, message: str) -> typer.Exit:
    """Print ``error: <message>`` on stderr, and give the exit to raise."""
    console(stderr=True).print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(int(code))


# The errors handled() turns into an exit code, by module: an error can only come from a module
# that was imported, so the commands import none of them (the AWS SDK among them) just for this.
HANDLED: dict[ExitCode, tuple[tuple[str, str], ...]] = {
    ExitCode.USAGE: (("medallion.cli.errors", "UsageError"), ("medallion.aws", "DeployInputError")),
    ExitCode.FAILED: (
        ("medallion.aws", "Aborted"),
        ("medallion.local.lakelock", "LakeBusy"),
        ("medallion.aws.athena", "QueryError"),
    ),
    ExitCode.AWS: (
        ("medallion.aws", "AwsError"),
        ("medallion.aws.stepfunctions", "StepFunctionsError"),
    ),
}


def exit_code_of(exc: BaseException) -> ExitCode | None:
    """The exit code of a handled error, None for any other."""
    for code, names in HANDLED.items():
        for module, name in names:
            kind = getattr(sys.modules.get(module), name, None)
            if isinstance(kind, type) and isinstance(exc, kind):
                return code
    return None


@contextmanager
def handled() -> Iterator[None]:
    """Turn the named errors raised inside into one line on stderr and their exit code."""
    try:
        yield
    except Exception as exc:
        code = exit_code_of(exc)
        if code is None:
            raise
        raise exit_with(code, str(exc)) from None


def failed_unless(ok: bool) -> None:
    """Exit 1 when what ran did not succeed (its report is printed already)."""
    if not ok:
        raise typer.Exit(int(ExitCode.FAILED))
