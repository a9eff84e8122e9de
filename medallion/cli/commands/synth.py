"""``medallion synth``: write an environment's CloudFormation template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from medallion.cli import options
from medallion.cli.output import console


def synth_command(
    env: options.Env = "dev",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File to write; .yaml/.yml for YAML, else JSON. Default: stdout.",
            envvar="MEDALLION_TEMPLATE_OUT",
        ),
    ] = None,
) -> None:
    """Render the stack of one environment (medallion-<env>) as a CloudFormation template."""
    from infra.stack import render

    fmt = "yaml" if out is not None and out.suffix in (".yaml", ".yml") else "json"
    text = render(env, fmt)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    console(stderr=True).print(f"wrote {out} ({fmt}, {len(text.encode()):,} bytes)")


def register(app: typer.Typer) -> None:
    """Add ``synth`` to the CLI."""
    app.command("synth")(synth_command)
