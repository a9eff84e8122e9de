"""The local runtime: moto engine hooks, local services, job runner and host, DuckDB catalog."""

from __future__ import annotations

from pathlib import Path


def run_roots(lake: Path, landing: Path | None) -> tuple[Path, Path]:
    """A local run's lake and landing folders, absolute: landing is ``<lake>/landing`` unless
    one is named. The one place that decides it (the command, the job host and the state
    machine's substitutions all need it; this package imports nothing heavy)."""
    root = lake.resolve()
    return root, (landing or root / "landing").resolve()
