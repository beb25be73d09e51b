"""`jamsos demo`: the whole flow on a synthetic cohort, embedded broker, fresh database
(cli/demo_flow.py)."""

from __future__ import annotations

from dataclasses import replace

import typer

from jamsos.cli.common import app
from jamsos.settings import load_settings


@app.command()
def demo(
    workers: int = typer.Option(600, help="valid workers in the synthetic cohort"),
) -> None:
    """Run the whole flow on synthetic data (embedded broker and database) and print the report."""
    from jamsos.cli.demo_flow import run_demo

    code = run_demo(replace(load_settings(), kafka_bootstrap=None), workers)
    raise typer.Exit(code)
