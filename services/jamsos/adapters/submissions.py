"""SQL of `submissions`: the inbox of registration (one row per (agency_code, submission_id)),
its outcome, and the look-alikes of a held submission."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from jamsos.adapters.arrays import text_array
from jamsos.usecases.rows import Decision, Held, Identity, NewSubmission


async def insert_submissions(
    conn: asyncpg.Connection, rows: Sequence[NewSubmission], received_at: dt.datetime
) -> set[Identity]:
    """Insert as RECEIVED; returns the identities that were new (the rest were seen before)."""
    if not rows:
        return set()
    inserted = await conn.fetch(
        """
        INSERT INTO submissions (agency_code, submission_id, content_hash, nik, village_code,
                                 payload, received_at, status)
        SELECT a, s, h, n, v, p::jsonb, $7, 'RECEIVED'
        FROM unnest($1::text::text[], $2::text::text[], $3::text::text[], $4::text::text[],
                    $5::text::text[], $6::text[])
            AS t(a, s, h, n, v, p)
        ORDER BY a, s  -- one lock order for every consumer (no deadlocks)
        ON CONFLICT (agency_code, submission_id) DO NOTHING
        RETURNING agency_code, submission_id
        """,
        text_array([r.agency_code for r in rows]),
        text_array([r.submission_id for r in rows]),
        text_array([r.content_hash for r in rows]),
        text_array([r.nik for r in rows]),
        text_array([r.village_code for r in rows]),
        [r.payload_json for r in rows],  # long JSON: a list (adapters/arrays.py)
        received_at,
    )
    return {(r["agency_code"], r["submission_id"]) for r in inserted}


async def content_hashes(conn: asyncpg.Connection, ids: Sequence[Identity]) -> dict[Identity, str]:
    """The stored content hash of each known identity."""
    if not ids:
        return {}
    rows = await conn.fetch(
        """
        SELECT s.agency_code, s.submission_id, s.content_hash
        FROM submissions s
        JOIN unnest($1::text[], $2::text[]) AS t(a, i)
            ON s.agency_code = t.a AND s.submission_id = t.i
        """,
        [a for a, _ in ids],
        [i for _, i in ids],
    )
    return {(r["agency_code"], r["submission_id"]): r["content_hash"] for r in rows}


async def record_decisions(
    conn: asyncpg.Connection, decisions: Sequence[Decision], decided_at: dt.datetime
) -> None:
    """Set the outcome of submissions not decided yet (in flight or held)."""
    if not decisions:
        return
    await conn.execute(
        """
        UPDATE submissions s
        SET status = t.st, reasons = t.r::jsonb, membership_no = t.m,
            existing_agency_code = t.x, decided_at = $7
        FROM unnest($1::text::text[], $2::text::text[], $3::text::text[], $4::text[],
                    $5::text::text[], $6::text::text[])
            AS t(a, i, st, r, m, x)
        WHERE s.agency_code = t.a AND s.submission_id = t.i AND s.status IN ('RECEIVED', 'REVIEW')
        """,
        text_array([d.agency_code for d in decisions]),
        text_array([d.submission_id for d in decisions]),
        text_array([d.status for d in decisions]),
        [None if d.reasons is None else json.dumps(d.reasons) for d in decisions],
        text_array([d.membership_no for d in decisions]),
        text_array([d.existing_agency_code for d in decisions]),
        decided_at,
    )


# Rows a statement locks FOR UPDATE are locked in key order (ORDER BY under the lock): two
# transactions locking overlapping sets then wait for each other instead of deadlocking. The
# plan of a large table looks a batch's keys up one by one in the batch's order, and two
# batches can list the same submissions in different orders (one redelivered to a second
# instance after a rebalance, its partitions in another order).
async def pending(conn: asyncpg.Connection, ids: Sequence[Identity]) -> set[Identity]:
    """The identities still RECEIVED (not decided yet), locked for this transaction in key
    order."""
    if not ids:
        return set()
    rows = await conn.fetch(
        """
        SELECT s.agency_code, s.submission_id
        FROM submissions s
        JOIN unnest($1::text::text[], $2::text::text[]) AS t(a, i)
            ON s.agency_code = t.a AND s.submission_id = t.i
        WHERE s.status = 'RECEIVED'
        ORDER BY s.agency_code COLLATE "C", s.submission_id COLLATE "C"
        FOR UPDATE OF s
        """,
        text_array([a for a, _ in ids]),
        text_array([i for _, i in ids]),
    )
    return {(r["agency_code"], r["submission_id"]) for r in rows}


async def record_candidates(
    conn: asyncpg.Connection, held: Sequence[tuple[Identity, list[dict[str, Any]]]]
) -> None:
    """Keep the look-alikes a held submission was matched with."""
    if not held:
        return
    await conn.execute(
        """
        UPDATE submissions s SET candidates = t.c::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[]) AS t(a, i, c)
        WHERE s.agency_code = t.a AND s.submission_id = t.i
        """,
        [i[0] for i, _ in held],
        [i[1] for i, _ in held],
        [json.dumps(c) for _, c in held],
    )


async def held(conn: asyncpg.Connection, ids: Sequence[Identity]) -> dict[Identity, Held]:
    """Submissions among `ids` still held for review, locked for this transaction in key
    order (as `pending`)."""
    if not ids:
        return {}
    rows = await conn.fetch(
        """
        SELECT s.agency_code, s.submission_id, s.payload::text AS payload, s.candidates
        FROM submissions s
        JOIN unnest($1::text[], $2::text[]) AS t(a, i)
            ON s.agency_code = t.a AND s.submission_id = t.i
        WHERE s.status = 'REVIEW'
        ORDER BY s.agency_code COLLATE "C", s.submission_id COLLATE "C"
        FOR UPDATE OF s
        """,
        [a for a, _ in ids],
        [i for _, i in ids],
    )
    return {
        (r["agency_code"], r["submission_id"]): Held(r["payload"], r["candidates"] or [])
        for r in rows
    }


async def set_reviewer(conn: asyncpg.Connection, ids: Sequence[tuple[Identity, str]]) -> None:
    """Record who resolved each hold."""
    if not ids:
        return
    await conn.execute(
        """
        UPDATE submissions s SET reviewed_by = t.b
        FROM unnest($1::text[], $2::text[], $3::text[]) AS t(a, i, b)
        WHERE s.agency_code = t.a AND s.submission_id = t.i
        """,
        [i[0] for i, _ in ids],
        [i[1] for i, _ in ids],
        [b for _, b in ids],
    )
