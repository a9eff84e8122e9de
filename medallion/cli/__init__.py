"""The ``medallion`` command line: the Typer app (``medallion.cli:app``) and its thin commands."""

from medallion.cli.app import app

__all__ = ["app"]
