"""Checks of option values Typer cannot express: a bad value is a usage error (exit 2)."""

from __future__ import annotations

from datetime import date

import typer


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
