"""Job arguments, read with Glue's getResolvedOptions so the scripts run unchanged on Glue."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from jobs.common.errors import JobArgumentError

# The run id is the Step Functions execution name, so it follows that name's rule: 1 to 80
# characters, none of them whitespace, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /, a control
# character (U+0000-001F, U+007F-009F), a surrogate or U+FFFE/U+FFFF. StartExecution's ``name``:
# https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/sfn/aws.sdk.kotlin.services.sfn.model/-start-execution-request/name.html
# Batch ids (``r1.2``: a run id, a dot and a number) keep to it. The one definition: the CLI
# imports it from here, so this module imports no PySpark at load (see ``resolve``).
RUN_ID_MAX_LENGTH = 80
RUN_ID_FORBIDDEN = '<>{}[]?*"#%\\^|~`$&,;:/'
RUN_ID_PATTERN = (
    r"[^\s"
    + re.escape(RUN_ID_FORBIDDEN)
    + r"\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]{1,"
    + str(RUN_ID_MAX_LENGTH)
    + "}"
)
RUN_ID = re.compile(RUN_ID_PATTERN)


def check_run_id(run_id: str, option: str = "--run_id") -> str:
    """Return ``run_id`` if Step Functions accepts it as an execution name, else raise.

    Raises
    ------
    JobArgumentError
        Naming the option, the value and what is wrong with it (length or the character).
    """
    if RUN_ID.fullmatch(run_id):
        return run_id
    if not 1 <= len(run_id) <= RUN_ID_MAX_LENGTH:
        problem = f"must be 1 to {RUN_ID_MAX_LENGTH} characters, not {len(run_id)}"
    else:
        bad = next(c for c in run_id if not RUN_ID.fullmatch(c))
        problem = f"may not contain {bad!r} (a Step Functions execution name's rule)"
    raise JobArgumentError(f"{option} {run_id!r} {problem}")


def resolve(argv: list[str], required: list[str], optional: dict[str, str]) -> dict[str, str]:
    """Resolve ``--name value`` arguments; Glue has no optional ones, so defaults fill them."""
    # Imported here, not at the top: awsglue imports PySpark, and the CLI imports this module
    # for the run-id rule alone.
    from awsglue.utils import getResolvedOptions

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
        check_run_id(values["run_id"])
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
