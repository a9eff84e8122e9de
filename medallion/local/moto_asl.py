"""One parse of the state machine's definition per run instead of two (patch 8 of moto_patches).

moto's Step Functions engine parses a definition with ANTLR's Python runtime: about a second
for the pipeline's (52 KB once rendered) on two busy cores. It parses it when the state machine
is created, to validate it, and throws that tree away; it parses it again when an execution
starts, to evaluate it. ``medallion run`` creates its state machine and starts one execution,
so both parses sit between the command's start and the bronze job's.

Here the validation's tree is kept and handed to the next execution of the same definition,
which would have built the same tree from the same text. Each tree still serves one execution
only (the validation never used it), so whatever an evaluation does to its tree is not seen by
another. A definition that does not parse is refused exactly as moto refuses it (moto's own
validation runs again to raise its error). A few trees at most are kept for definitions created
and never run (``medallion serve`` lives long); the oldest is dropped first.

The parse itself is kept between runs too: the evaluated program moto builds from a definition
(its states, not ANTLR's tree) is pickled under ``<venv>/share/medallion/asl/``, named by a digest
of moto's version and the definition's text, and the next run of the same definition (the same
lake, landing and contracts) unpickles it in milliseconds instead of parsing for 0.3-1 s. Each
load is a new copy, as each parse was. Only a definition that parsed is kept; the newest
``KEPT_PARSES`` are, and a file that cannot be read or written is parsed again, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import sys
import tempfile
import threading
from collections import deque
from pathlib import Path
from typing import Any, Final

import moto
from moto.stepfunctions.parser import models as parser_models
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend import execution_worker

SPARE_TREES: Final = 4
KEPT_PARSES: Final = 16
PARSES = Path(sys.prefix, "share", "medallion", "asl")
VALIDATE: Final = "_validate_definition"
ENTRYPOINT: Final = "_get_evaluation_entrypoint"

_lock = threading.Lock()
# (definition, parse result), oldest first; a full deque drops its oldest as another comes
_spares: deque[tuple[str, Any]] = deque(maxlen=SPARE_TREES)
_originals: dict[str, Any] = {}


def _keep(definition: str, parsed: Any) -> None:
    with _lock:
        _spares.append((definition, parsed))


def _take(definition: str) -> Any | None:
    """The oldest kept parse of this definition, removed (None when there is none)."""
    with _lock:
        for spare in _spares:
            if spare[0] == definition:
                _spares.remove(spare)
                return spare[1]
    return None


def _kept_parse(definition: str) -> Path:
    digest = hashlib.sha256(f"{moto.__version__}\n{definition}".encode()).hexdigest()[:32]
    return PARSES / f"{digest}.pickle"


def _load_parse(definition: str) -> Any | None:
    """The program of a parse kept by an earlier run, None when there is none to read."""
    path = _kept_parse(definition)
    try:
        with path.open("rb") as handle:
            program = pickle.load(handle)  # written by this venv's own runs only
    except Exception:  # absent, unreadable or from another moto: parsed again
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: the last to be dropped
    return (program, None)


def _save_parse(definition: str, parsed: Any) -> None:
    """Keep a parse's program for the next run (atomically; skipped if it cannot be written)."""
    with contextlib.suppress(Exception):
        PARSES.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(dir=PARSES, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(parsed[0], out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(scratch, _kept_parse(definition))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(scratch)
        kept = sorted(PARSES.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEPT_PARSES:]:
            old.unlink(missing_ok=True)


def _validate_definition(definition: str) -> None:
    parsed = _load_parse(definition)
    if parsed is None:
        try:
            parsed = AmazonStateLanguageParser.parse(definition)
        except Exception:  # moto's validation raises its own error (InvalidDefinition)
            _originals[VALIDATE].__func__(definition=definition)
            raise
        _save_parse(definition, parsed)
    _keep(definition, parsed)


def _get_evaluation_entrypoint(self: Any) -> Any:
    definition = self._evaluation_details.state_machine_details.definition
    parsed = _take(definition) or _load_parse(definition)
    return parsed[0] if parsed is not None else _originals[ENTRYPOINT](self)


def _patched() -> tuple[tuple[Any, str, Any], ...]:
    """(owner, attribute, replacement) of each patch."""
    return (
        (parser_models.StepFunctionsParserBackend, VALIDATE, _validate_definition),
        (execution_worker.ExecutionWorker, ENTRYPOINT, _get_evaluation_entrypoint),
    )


def install() -> None:
    """Keep validation trees for executions (idempotent)."""
    with _lock:
        if _originals:
            return
        for owner, name, replacement in _patched():
            _originals[name] = owner.__dict__[name]  # the staticmethod itself, to put back
            setattr(owner, name, staticmethod(replacement) if name == VALIDATE else replacement)


def uninstall() -> None:
    """moto as shipped, and no tree kept."""
    with _lock:
        for owner, name, _ in _patched():
            if name in _originals:
                setattr(owner, name, _originals.pop(name))
        _spares.clear()
