"""`jamsos ops audit [--json]`: who decided what (review decisions, payments, dead-letter
replays and discards), newest first. An extension of the operations interface (README,
"Audit"); the --json shape is `[{"at", "actor", "action", "subject", "reason", "detail"}]`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from jamsos.cli.common import ops_app, with_connection
from jamsos.cli.errors import Failure
from jamsos.domain.coverage import JAKARTA
from jamsos.settings import load_settings
from jamsos.usecases.audit_actions import AuditAction

if TYPE_CHECKING:
    import asyncpg


def audit_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `ops audit --json` document."""
    return [
        {
            "at": r["at"].isoformat(),
            "actor": r["actor"],
            "action": r["action"],
            "subject": r["subject"],
            "reason": r["reason"],
            "detail": r["detail"],
        }
        for r in rows
    ]


@ops_app.command("audit")
def ops_audit(
    as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout"),
    limit: int = typer.Option(100, "--limit", min=1, help="the newest N entries"),
    action: str | None = typer.Option(
        None, "--action", help=f"only one action ({', '.join(a.value for a in AuditAction)})"
    ),
    subject: str | None = typer.Option(
        None, "--subject", help="only one subject: AGENCY/SUBMISSION_ID, invoice no., event id"
    ),
) -> None:
    """Who decided what: review decisions, payments, dead-letter replays and discards."""
    from jamsos.adapters import audit

    if action is not None and action not in {a.value for a in AuditAction}:
        raise Failure(f"--action {action!r}: choose from {', '.join(a.value for a in AuditAction)}")

    async def go(conn: asyncpg.Connection) -> list[dict[str, Any]]:
        return await audit.entries(conn, limit=limit, action=action, subject=subject)

    rows = asyncio.run(with_connection(load_settings(), go))
    if as_json:
        sys.stdout.write(json.dumps(audit_json(rows), indent=2, ensure_ascii=False) + "\n")
        return
    table = Table("at (WIB)", "actor", "action", "subject", "reason", title="Audit log")
    for r in rows:
        table.add_row(
            r["at"].astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M:%S"),
            r["actor"],
            r["action"],
            r["subject"],
            r["reason"] or "",
        )
    Console(highlight=False).print(table)
    if not rows:
        Console(highlight=False).print("no audit entries")
