"""A progress bar for a command's long loop, on stderr when it is a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def stream_progress(out: Console) -> Progress:
    """A progress bar on stderr when it is a terminal; nothing at all when it is not (a disabled
    rich progress still prints an empty line when it stops)."""

    if not out.is_terminal:
        return _Silent()
    return Progress(
        TextColumn("[bold]stream"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
        disable=not out.is_terminal,
        transient=True,
    )


class _Silent(Progress):
    """A progress that shows nothing and prints nothing when it starts or stops."""

    def __init__(self) -> None:
        super().__init__(disable=True)

    def start(self) -> None:
        """Nothing to show."""

    def stop(self) -> None:
        """Nothing to clear."""
