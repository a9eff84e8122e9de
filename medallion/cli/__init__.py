"""The ``medallion`` command line: the Typer app (``medallion.cli:app``) and its thin commands;
``medallion.cli:main`` is the console script."""

import atexit
import gc

from medallion.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Run the app, and end without the interpreter's last garbage collection.

    A ``medallion run`` ends holding moto's and botocore's models and its run's history, some
    360,000 objects at the end of a one-day delivery, all alive until the process ends; the
    interpreter's shut-down collects them, 0.9 s of that run on two cores (0.1 s frozen).
    Registered first, the freeze runs after every other exit handler: files and the command's
    output are closed and flushed by then, and the operating system takes the memory back.
    """
    atexit.register(_skip_last_collection)
    app()


def _skip_last_collection() -> None:
    gc.disable()
    gc.freeze()  # the objects alive now are left to the process's end, not collected
