"""Checks of option values Typer cannot express: a bad value is a usage error (exit 2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from jobs.common.contracts import load_contracts_dir
from jobs.common.errors import ContractError
from medallion.cli.errors import ExitCode, exit_with


def iso_day(text: str | None, flag: str) -> date | None:
    """The day an ``YYYY-MM-DD`` option names (None when unset); anything else is a usage error."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("expected YYYY-MM-DD", param_hint=flag) from None


def key_values(pairs: list[str], flag: str) -> dict[str, str]:
    """``Key=Value`` strings to a dict; a malformed pair is a usage error."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r} is not Key=Value", param_hint=flag)
        parsed[key] = value
    return parsed


def dataset_names(text: str, contracts: Path, flag: str = "--datasets") -> str:
    """Comma-separated dataset names, each one a contract of ``contracts`` (``<name>.yaml``);
    an unknown name is a usage error that lists the valid ones."""
    known = sorted(p.stem for p in contracts.glob("*.yaml"))
    wanted = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown and known:
        raise typer.BadParameter(
            f"unknown dataset(s) {', '.join(unknown)}; choose from {', '.join(known)}",
            param_hint=flag,
        )
    return text


def contracts_valid(contracts: Path) -> None:
    """A malformed contract is refused before anything starts, named as the jobs name it
    (``contracts/reviews.yaml: rule ...``)."""
    try:
        load_contracts_dir(contracts)
    except ContractError as err:
        raise exit_with(ExitCode.USAGE, str(err)) from None


def local_settings() -> None:
    """The environment's settings of a local run (``MEDALLION_JOB_HOST``, ``MEDALLION_JIT``)
    are checked before anything starts: a bad value is a usage error naming the choices."""
    from medallion.local.jit import jit_setting
    from medallion.local.jobhost import warm_hosts_enabled

    try:
        warm_hosts_enabled()
        jit_setting()
    except ValueError as err:
        raise exit_with(ExitCode.USAGE, str(err)) from None
