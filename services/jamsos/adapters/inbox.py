"""The generic inbox: one row per processed command or event, keyed by its own identity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import asyncpg


async def claim(
    conn: asyncpg.Connection, consumer: str, messages: Mapping[str, str], now: dt.datetime
) -> set[str]:
    """Record `messages` (id -> content hash) for `consumer`; returns the ids that were new.

    Inserted in id order: a batch redelivered to a second instance claims the same ids, maybe
    listed in another order, and waits for the first on the first id they share instead of
    deadlocking with it (adapters/submissions.py)."""
    if not messages:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO inbox (consumer, message_id, content_hash, processed_at)
        SELECT $1, m, h, $4 FROM unnest($2::text[], $3::text[]) AS t(m, h)
        ORDER BY m COLLATE "C"
        ON CONFLICT (consumer, message_id) DO NOTHING
        RETURNING message_id
        """,
        consumer,
        list(messages),
        list(messages.values()),
        now,
    )
    return {r["message_id"] for r in rows}


async def content_hashes(
    conn: asyncpg.Connection, consumer: str, ids: Sequence[str]
) -> dict[str, str]:
    """The stored content hash of each id already processed by `consumer`."""
    if not ids:
        return {}
    rows = await conn.fetch(
        "SELECT message_id, content_hash FROM inbox"
        " WHERE consumer = $1 AND message_id = ANY($2::text[])",
        consumer,
        list(ids),
    )
    return {r["message_id"]: r["content_hash"] for r in rows}
