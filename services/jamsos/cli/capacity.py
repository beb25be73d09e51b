"""`jamsos ops capacity recount` (an extension): drifted capacity counters set back to the active
participants of their scope, audited as `capacity.recount`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys

import typer
from rich.table import Table

from jamsos.cli.common import console, ops_app, with_pool
from jamsos.settings import load_settings

capacity_app = typer.Typer(
    no_args_is_help=True, help="Places used against the regency ceiling and agency quotas."
)
ops_app.add_typer(capacity_app, name="capacity")


@capacity_app.command("recount")
def capacity_recount(
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Set drifted capacity counters back to the active participants (audited).

    Every counter (the regency's, each agency's) is recounted under its row lock, in the order
    verification locks them, so it is safe while the services run; a missing agency row is
    created. `jamsos reconcile` reports a drifted counter. Nothing drifted: nothing changes.
    """
    from jamsos.adapters.stores import PostgresUnitOfWork
    from jamsos.usecases import capacity

    settings = load_settings()
    changes = asyncio.run(
        with_pool(
            settings,
            lambda pool: capacity.recount(
                PostgresUnitOfWork(pool), settings.actor, dt.datetime.now(dt.UTC)
            ),
        )
    )
    if as_json:
        document = [{"scope": c.scope, "before": c.before, "after": c.after} for c in changes]
        sys.stdout.write(json.dumps({"changed": document}, indent=2) + "\n")
        return
    if not changes:
        console.print("capacity counters equal the active participants: nothing changed")
        return
    table = Table("scope", "before", "after", title="Capacity recounted")
    for c in changes:
        table.add_row(c.scope, "missing" if c.before is None else f"{c.before:,}", f"{c.after:,}")
    console.print(table)
    console.print(f"{len(changes)} counter(s) set to the active participants; audited as"
                  " capacity.recount")  # fmt: skip
