"""Read-side SQL for `jamsos report`: plain queries, no domain model."""

from __future__ import annotations

from typing import Any

import asyncpg


async def dead_letters(conn: asyncpg.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """The most recent dead letters."""
    rows = await conn.fetch(
        'SELECT event_id, source_topic, partition, "offset", key, value, error, failed_at,'
        " replayed_at FROM dead_letters ORDER BY failed_at DESC LIMIT $1",
        limit,
    )
    return [dict(r) for r in rows]


async def held_submissions(conn: asyncpg.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """Submissions waiting for an operator's review, oldest first, with their look-alikes."""
    rows = await conn.fetch(
        """
        SELECT agency_code, submission_id, nik, payload->'worker'->>'full_name' AS full_name,
               payload->'worker'->>'birth_date' AS birth_date, candidates, received_at
        FROM submissions WHERE status = 'REVIEW' ORDER BY received_at LIMIT $1
        """,
        limit,
    )
    return [dict(r) for r in rows]


async def dead_letter(conn: asyncpg.Connection, event_id: str) -> dict[str, Any] | None:
    """One dead letter's source topic and original bytes."""
    row = await conn.fetchrow(
        "SELECT source_topic, key, value FROM dead_letters WHERE event_id = $1::uuid", event_id
    )
    return None if row is None else dict(row)


async def mark_replayed(conn: asyncpg.Connection, event_id: str) -> None:
    """Record that a dead letter's bytes were published back."""
    await conn.execute(
        "UPDATE dead_letters SET replayed_at = now() WHERE event_id = $1::uuid", event_id
    )


async def held_nik(conn: asyncpg.Connection, agency_code: str, submission_id: str) -> str | None:
    """The NIK of a submission held for review, or None when it is not held."""
    nik: str | None = await conn.fetchval(
        "SELECT nik FROM submissions WHERE agency_code = $1 AND submission_id = $2"
        " AND status = 'REVIEW'",
        agency_code,
        submission_id,
    )
    return nik
