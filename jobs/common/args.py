"""Job arguments, read with Glue's getResolvedOptions so the scripts run unchanged on Glue."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from awsglue.utils import getResolvedOptions

from jobs.common.errors import JobArgumentError

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def resolve(argv: list[str], required: list[str], optional: dict[str, str]) -> dict[str, str]:
    """Resolve ``--name value`` arguments; Glue has no optional ones, so defaults fill them."""
    present = [name for name in optional if f"--{name}" in argv]
    missing = [name for name in required if f"--{name}" not in argv]
    if missing:
        raise JobArgumentError("missing argument(s): " + ", ".join(f"--{m}" for m in missing))
    try:
        resolved = getResolvedOptions(argv, required + present)
    except SystemExit as exc:  # argparse exits on a flag without a value
        raise JobArgumentError(f"invalid arguments: {' '.join(argv[1:])}") from exc
    return {**optional, **{k: resolved[k] for k in required + present}}


@dataclass(frozen=True)
class JobArgs:
    """The options every job takes; empty strings mean 'not set' because Glue has no nulls."""

    lake_root: str
    run_id: str
    contracts_root: str
    datasets: tuple[str, ...]
    landing_root: str
    observation_end: date | None
    full_refresh: bool
    pii_salt_secret: str

    @classmethod
    def from_argv(cls, argv: list[str]) -> JobArgs:
        values = resolve(
            argv,
            ["lake_root", "run_id"],
            {
                "contracts_root": "",
                "datasets": "",
                "landing_root": "",
                "observation_end": "",
                "full_refresh": "false",
                "pii_salt_secret": "",
            },
        )
        if not RUN_ID.match(values["run_id"]):
            raise JobArgumentError(f"--run_id {values['run_id']!r} must match {RUN_ID.pattern}")
        lake_root = values["lake_root"].rstrip("/")
        return cls(
            lake_root=lake_root,
            run_id=values["run_id"],
            contracts_root=values["contracts_root"].rstrip("/"),
            datasets=_datasets(values["datasets"]),
            landing_root=(values["landing_root"] or f"{lake_root}/landing").rstrip("/"),
            observation_end=_date(values["observation_end"], "observation_end"),
            full_refresh=_flag(values["full_refresh"], "full_refresh"),
            pii_salt_secret=values["pii_salt_secret"],
        )


def _datasets(text: str) -> tuple[str, ...]:
    """Comma-separated names; empty, ``all`` or ``*`` mean every dataset (Glue may drop "")."""
    names = tuple(d.strip() for d in text.split(",") if d.strip())
    return () if names in {("all",), ("*",)} else names


def _date(text: str, name: str) -> date | None:
    if not text or text.lower() in {"none", "null"}:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise JobArgumentError(f"--{name} {text!r} is not a date (YYYY-MM-DD)") from None


def _flag(text: str, name: str) -> bool:
    if text.lower() in {"true", "1", "yes"}:
        return True
    if text.lower() in {"false", "0", "no", ""}:
        return False
    raise JobArgumentError(f"--{name} {text!r} must be true or false")
