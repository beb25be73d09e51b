"""SQL of `dead_letters`: every message that went to the DLQ (written with the change that
rejected it), listed, found by id prefix, replayed and discarded by `jamsos ops dlq`."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from jamsos.usecases.rows import DeadLetter

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


async def add_dead_letters(
    conn: asyncpg.Connection, letters: Sequence[DeadLetter], failed_at: dt.datetime
) -> None:
    """Keep dead letters in the database too, for `jamsos ops dlq` and the report."""
    if not letters:
        return
    await conn.execute(
        """
        INSERT INTO dead_letters (event_id, source_topic, partition, "offset", key, value, error,
                                  failed_at, headers)
        SELECT e, t, p, o, k, v, er, $8, h::jsonb
        FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[], $5::bytea[], $6::bytea[],
                    $7::text[], $9::text[]) AS x(e, t, p, o, k, v, er, h)
        ORDER BY e  -- in id order, so that two redeliveries of them wait rather than deadlock
        ON CONFLICT (event_id) DO NOTHING
        """,
        [d.event_id for d in letters],
        [d.record.topic for d in letters],
        [d.record.partition for d in letters],
        [d.record.offset for d in letters],
        [d.record.key for d in letters],
        [d.record.value for d in letters],
        [d.error for d in letters],
        failed_at,
        [json.dumps(headers_json(d.record.headers)) for d in letters],
    )


def headers_json(headers: Sequence[tuple[str, bytes]]) -> list[list[str]]:
    """Kafka headers as JSON: [name, base64 of the value] pairs (dead_letters.headers)."""
    return [[name, base64.b64encode(value).decode("ascii")] for name, value in headers]


def headers_from_json(doc: Any) -> list[tuple[str, bytes]]:
    """The Kafka headers stored by `headers_json`."""
    pairs = json.loads(doc) if isinstance(doc, str) else doc
    return [(str(name), base64.b64decode(value)) for name, value in pairs or ()]
