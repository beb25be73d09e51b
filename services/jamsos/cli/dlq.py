"""`jamsos ops dlq list|replay`: dead letters (jamsos.dlq.v1) and publishing them back."""

from __future__ import annotations

import asyncio

import asyncpg
import typer
from rich.table import Table

from jamsos.adapters import views
from jamsos.cli.common import configured, console, dlq_app, with_connection
from jamsos.publishing import publish_raw
from jamsos.settings import load_settings


@dlq_app.command("list")
def dlq_list(limit: int = typer.Option(50)) -> None:
    """Show the most recent dead letters."""
    rows = asyncio.run(with_connection(load_settings(), lambda c: views.dead_letters(c, limit)))
    table = Table("event_id", "from", "error", "failed at", "replayed")
    for row in rows:
        table.add_row(
            str(row["event_id"]),
            f"{row['source_topic']}[{row['partition']}]@{row['offset']}",
            row["error"],
            str(row["failed_at"]),
            str(row["replayed_at"] or ""),
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(event_id: str = typer.Argument(..., help="the dead letter's event_id")) -> None:
    """Publish a dead letter's original bytes back to its source topic (e.g. after a fix)."""
    settings = configured(load_settings())

    async def go(conn: asyncpg.Connection) -> str:
        row = await views.dead_letter(conn, event_id)
        if row is None:
            return ""
        await publish_raw(settings, row["source_topic"], [(row["key"], row["value"])])
        await views.mark_replayed(conn, event_id)
        return str(row["source_topic"])

    topic = asyncio.run(with_connection(settings, go))
    if not topic:
        console.print(f"[red]no dead letter {event_id}[/red]")
        raise typer.Exit(1)
    console.print(f"replayed {event_id} to {topic}", highlight=False)
