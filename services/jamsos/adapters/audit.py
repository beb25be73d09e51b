"""The audit log (migration 0009_audit.sql): who decided what, appended in the transaction of
the change it records; read by `jamsos ops audit`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from jamsos.usecases.rows import AuditEntry


async def add(conn: asyncpg.Connection, entries: Sequence[AuditEntry], at: dt.datetime) -> None:
    """Append `entries`, all at `at` (call it inside the change's transaction)."""
    if not entries:
        return
    await conn.execute(
        """
        INSERT INTO audit_log (at, actor, action, subject, reason, detail)
        SELECT $1, a, c, s, r, d::jsonb
        FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(a, c, s, r, d)
        """,
        at,
        [e.actor for e in entries],
        [str(e.action) for e in entries],
        [e.subject for e in entries],
        [e.reason for e in entries],
        [json.dumps(e.detail, sort_keys=True) for e in entries],
    )


async def entries(
    conn: asyncpg.Connection,
    *,
    limit: int,
    action: str | None = None,
    subject: str | None = None,
) -> list[dict[str, Any]]:
    """The newest `limit` entries (optionally of one action or subject), newest first."""
    rows = await conn.fetch(
        "SELECT at, actor, action, subject, reason, detail FROM audit_log"
        " WHERE ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR subject = $3)"
        " ORDER BY at DESC, audit_id DESC LIMIT $1",
        limit,
        action,
        subject,
    )
    return [dict(r) for r in rows]
