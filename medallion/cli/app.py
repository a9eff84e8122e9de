"""The Typer app: one command per module of medallion.cli.commands, registered in name order."""

from __future__ import annotations

import importlib
import pkgutil

import typer

from medallion.cli import commands

app = typer.Typer(
    name="medallion",
    help="Bronze -> silver -> gold sales pipeline: run it locally, deploy and operate it on AWS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{module.name}").register(app)


_register_commands()

if __name__ == "__main__":
    app()
