"""`jamsos submit`: a clerk's spreadsheet (or contract JSON) published as submissions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from jamsos.adapters.spreadsheet import read_workers
from jamsos.cli.common import app, console
from jamsos.publishing import publish_submissions
from jamsos.settings import Settings, load_settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics


def _submit_json(settings: Settings, file: Path) -> None:
    """Publish JSON (an object or a list) or JSONL payloads as they are; lines or items that are
    not JSON objects are reported and not published (exit code 1)."""
    text = file.read_text("utf-8")
    problems: list[tuple[int, str]] = []
    payloads: list[dict[str, Any]] = []
    if file.suffix.lower() == ".jsonl":
        items: list[tuple[int, str]] = [
            (n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()
        ]
        for n, line in items:
            try:
                payload = json.loads(line)
            except ValueError as error:
                problems.append((n, f"not JSON: {error}"))
                continue
            if isinstance(payload, dict):
                payloads.append(payload)
            else:
                problems.append((n, "not a JSON object"))
    else:
        try:
            doc = json.loads(text)
        except ValueError as error:
            console.print(f"[red]{file} is not JSON: {error}[/red]")
            raise typer.Exit(1) from error
        for n, payload in enumerate(doc if isinstance(doc, list) else [doc], 1):
            if isinstance(payload, dict):
                payloads.append(payload)
            else:
                problems.append((n, "not a JSON object"))
    sent = asyncio.run(publish_submissions(settings, payloads)) if payloads else 0
    console.print(f"published {sent} submission(s) to {topics.SUBMITTED}", highlight=False)
    if problems:
        table = Table("line/item", "problem", title="Not published")
        for n, problem in problems:
            table.add_row(str(n), problem)
        console.print(table)
        raise typer.Exit(1)


@app.command()
def submit(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV, XLSX, JSON or JSONL"),
    agency: str = typer.Option(None, "--agency", help="agency (OPD) code; required for CSV/XLSX"),
) -> None:
    """Publish a clerk's list of workers as submissions, with a per-row error report.

    CSV/XLSX rows become submissions of `--agency`; JSON (one object or a list) and JSONL are
    published as they are (the contract's payloads). Rows with errors are not published; the
    exit code is 1 when any row had an error.
    """
    settings = load_settings()
    if settings.kafka_bootstrap is None:
        console.print("[red]JAMSOS_KAFKA_BOOTSTRAP is not set[/red] (see `jamsos up`).")
        raise typer.Exit(2)
    if file.suffix.lower() in (".json", ".jsonl"):
        _submit_json(settings, file)
        return
    if not agency:
        console.print("[red]--agency is required for CSV/XLSX files[/red]")
        raise typer.Exit(2)
    result = read_workers(file, agency, jakarta_now())
    sent = (
        asyncio.run(publish_submissions(settings, result.submissions)) if result.submissions else 0
    )
    failed = len({e.row for e in result.errors})
    console.print(f"{result.rows} row(s): published {sent}, {failed} with errors", highlight=False)
    if result.errors:
        table = Table("row", "column", "problem", title="Rows not published")
        for error in result.errors:
            table.add_row(str(error.row), error.column or "", error.message)
        console.print(table)
        raise typer.Exit(1)
