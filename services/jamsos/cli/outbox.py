"""`jamsos ops outbox list|retry` (an extension): outbox rows the broker refused for good."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from jamsos.cli.common import configured, console, ops_app, with_connection
from jamsos.cli.errors import Failure
from jamsos.settings import load_settings

if TYPE_CHECKING:
    import asyncpg

outbox_app = typer.Typer(no_args_is_help=True, help="Outbox rows refused by the broker.")
ops_app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def outbox_list(
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """The failed outbox rows: id, topic, key, when and the broker's error."""
    from jamsos.adapters import outbox

    settings = configured(load_settings())

    async def go(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        return [
            {
                "id": r["id"],
                "event_id": str(r["event_id"]),
                "topic": r["topic"],
                "key": None if r["key"] is None else bytes(r["key"]).decode("utf-8", "replace"),
                "failed_at": r["failed_at"].isoformat(),
                "failure": r["failure"],
            }
            for r in await outbox.failures(conn)
        ]

    rows = asyncio.run(with_connection(settings, go))
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("id", "topic", "key", "failed at", "error")
    for r in rows:
        table.add_row(str(r["id"]), r["topic"], r["key"] or "", r["failed_at"], r["failure"])
    console.print(table)


@outbox_app.command("retry")
def outbox_retry(
    ids: list[int] = typer.Argument(None, help="row ids (see `ops outbox list`)"),
    every: bool = typer.Option(False, "--all", help="every failed row"),
) -> None:
    """Hand failed rows back to the sweeper after fixing the cause (audited)."""
    from jamsos.adapters import audit, outbox
    from jamsos.usecases.rows import AuditAction, AuditEntry

    if bool(ids) == every:
        raise Failure("name the row ids to retry, or --all (not both)", 2)
    settings = configured(load_settings())

    async def go(conn: asyncpg.Connection) -> list[int]:
        async with conn.transaction():  # the retry and who made it, together
            done = await outbox.retry(conn, None if every else ids)
            entries = [
                AuditEntry(settings.actor, AuditAction.OUTBOX_RETRY, str(i), detail={})
                for i in done
            ]
            await audit.add(conn, entries, dt.datetime.now(dt.UTC))
        return done

    done = asyncio.run(with_connection(settings, go))
    if not done:
        raise Failure("no failed outbox rows" if every else "no such failed outbox row", 1)
    console.print(f"retrying {len(done)} outbox row(s): {', '.join(map(str, done))}")
