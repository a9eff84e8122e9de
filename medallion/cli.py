"""The ``medallion`` command line: thin commands, discovered from medallion.commands."""

from __future__ import annotations

import importlib
import pkgutil

import typer

import medallion.commands

app = typer.Typer(
    name="medallion",
    help="Bronze -> silver -> gold sales pipeline: run it locally, deploy and operate it on AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for module in sorted(pkgutil.iter_modules(medallion.commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"medallion.commands.{module.name}").register(app)


_register_commands()

if __name__ == "__main__":
    app()
