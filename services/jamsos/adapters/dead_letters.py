"""SQL of `jamsos ops dlq`: dead letters listed, found by id prefix, replayed, discarded."""

from __future__ import annotations

from typing import Any

import asyncpg

_COLUMNS = (
    'event_id, source_topic, partition, "offset", key, value, error, failed_at, replayed_at,'
    " discarded_at, discard_reason, headers"
)


async def dead_letters(
    conn: asyncpg.Connection, limit: int = 100, *, include_closed: bool = False
) -> list[dict[str, Any]]:
    """The most recent dead letters; without `include_closed` only those neither replayed nor
    discarded."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM dead_letters"
        " WHERE $2 OR (replayed_at IS NULL AND discarded_at IS NULL)"
        " ORDER BY failed_at DESC LIMIT $1",
        limit,
        include_closed,
    )
    return [dict(r) for r in rows]


async def ids_with_prefix(conn: asyncpg.Connection, hex_prefix: str, limit: int = 5) -> list[str]:
    """Event ids (as text) whose hex digits start with `hex_prefix` (no dashes)."""
    rows = await conn.fetch(
        "SELECT event_id::text AS id FROM dead_letters"
        " WHERE replace(event_id::text, '-', '') LIKE $1 || '%' ORDER BY failed_at DESC LIMIT $2",
        hex_prefix,
        limit,
    )
    return [r["id"] for r in rows]


async def dead_letter(conn: asyncpg.Connection, event_id: str) -> dict[str, Any] | None:
    """One dead letter, with its original bytes."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM dead_letters WHERE event_id = $1::uuid", event_id
    )
    return None if row is None else dict(row)


async def mark_replayed(conn: asyncpg.Connection, event_id: str) -> None:
    """Record that a dead letter's bytes were published back."""
    await conn.execute(
        "UPDATE dead_letters SET replayed_at = now() WHERE event_id = $1::uuid", event_id
    )


async def mark_discarded(conn: asyncpg.Connection, event_id: str, reason: str) -> None:
    """Record that an operator dropped the dead letter, and why."""
    await conn.execute(
        "UPDATE dead_letters SET discarded_at = now(), discard_reason = $2"
        " WHERE event_id = $1::uuid",
        event_id,
        reason,
    )


async def submission_state(
    conn: asyncpg.Connection, agency_code: str, submission_id: str
) -> dict[str, Any] | None:
    """Status and arrival of the submission that holds (agency_code, submission_id)."""
    row = await conn.fetchrow(
        "SELECT status, received_at FROM submissions WHERE agency_code = $1 AND submission_id = $2",
        agency_code,
        submission_id,
    )
    return None if row is None else dict(row)
