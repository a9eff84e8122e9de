"""What every Glue entry script does around its work: report a summary, or fail clearly."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from jobs.common.errors import MedallionError
from jobs.common.runtime import on_glue

SUMMARY_PREFIX = "MEDALLION_SUMMARY "
ERROR_PREFIX = "MEDALLION_ERROR "

_OUTPUT_LOCK = threading.Lock()


def say(line: str, error: bool = False) -> None:
    """Print one whole line of a job's output, flushed: one write under a lock, so lines of
    datasets processed side by side never interleave mid-line (``print`` writes the text and
    the newline apart)."""
    stream = sys.stderr if error else sys.stdout
    with _OUTPUT_LOCK:
        stream.write(line + "\n")
        stream.flush()


def run_main(layer: str, body: Callable[[list[str]], dict[str, Any]]) -> None:
    """Run a job body; print its summary, or its error in one line and exit non-zero.

    On Glue the error is raised again so the job run's ErrorMessage is that line; locally the
    process exits with status 1 so the runner marks the run FAILED.
    """
    try:
        summary = body(sys.argv)
    except MedallionError as exc:
        _fail(layer, f"{type(exc).__name__}: {exc}", exc)
    except Exception as exc:
        traceback.print_exc()
        said = java_failure(exc) or _first_line(str(exc))
        _fail(layer, f"{type(exc).__name__}: {said}", exc)
    say(SUMMARY_PREFIX + json.dumps(summary, sort_keys=True, default=str))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def java_failure(exc: BaseException, most: int = 30) -> str | None:
    """The Java side of a failed Spark call in one line, for a Py4JJavaError (whose own first
    line only names the call: ``An error occurred while calling o144.parquet``): its deepest
    cause (``EOFException: Unexpected end of input stream``). None for other errors."""
    failure = getattr(exc, "java_exception", None)
    if failure is None:
        return None
    chain: list[tuple[str, str]] = []
    with contextlib.suppress(Exception):  # a JVM gone already: the first line will do
        while failure is not None and len(chain) < most:
            message = str(failure.getMessage() or "")
            chain.append((str(failure.getClass().getSimpleName()), _first_line(message)))
            failure = failure.getCause()
    if not chain:
        return None
    kind, message = chain[-1]
    return f"{kind}: {message}" if message else kind


def _fail(layer: str, message: str, exc: BaseException) -> None:
    say(f"{ERROR_PREFIX}{layer} job failed: {message}", error=True)
    if on_glue():
        raise RuntimeError(f"{layer} job failed: {message}") from exc
    sys.exit(1)
