"""The reads `jamsos demo` waits on and picks its examples with (the demo's own SQL)."""

from __future__ import annotations

from typing import Any

import asyncpg


async def settled_counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    """Decided submissions, dead letters and unpublished outbox rows."""
    row = await pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM submissions WHERE status <> 'RECEIVED') AS decided,
               (SELECT count(*) FROM dead_letters) AS dead,
               (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished
        """
    )
    assert row is not None
    return row["decided"], row["dead"], row["unpublished"]


async def active_participants(conn: asyncpg.Connection, limit: int) -> list[tuple[str, str]]:
    """(NIK, agency) of the first `limit` active participants by membership number."""
    rows = await conn.fetch(
        "SELECT nik, agency_code FROM participants WHERE status = 'ACTIVE'"
        " ORDER BY membership_no LIMIT $1",
        limit,
    )
    return [(r["nik"], r["agency_code"]) for r in rows]


async def submission_decided(
    conn: asyncpg.Connection, agency_code: str, submission_id: str
) -> bool:
    """Whether this submission has an outcome (or is held)."""
    decided = await conn.fetchval(
        "SELECT status <> 'RECEIVED' FROM submissions"
        " WHERE agency_code = $1 AND submission_id = $2",
        agency_code,
        submission_id,
    )
    return bool(decided)


async def covered_count(conn: asyncpg.Connection) -> int:
    """Coverage periods in the billing ledger."""
    value: int = await conn.fetchval("SELECT count(*) FROM coverage")
    return value


async def deceased_worker(pool: asyncpg.Pool) -> dict[str, Any] | None:
    """The worker (as enrolled) of one participant terminated as deceased."""
    worker: dict[str, Any] | None = await pool.fetchval(
        "SELECT worker FROM participants WHERE termination_reason = 'DECEASED' LIMIT 1"
    )
    return worker


async def first_active_worker(pool: asyncpg.Pool) -> dict[str, Any] | None:
    """The worker of the active participant with the lowest membership number."""
    worker: dict[str, Any] | None = await pool.fetchval(
        "SELECT worker FROM participants WHERE status = 'ACTIVE' ORDER BY membership_no LIMIT 1"
    )
    return worker


async def decided_status(pool: asyncpg.Pool, submission_id: str) -> str | None:
    """The status of a submission once it is decided (or held); None while in flight."""
    value: str | None = await pool.fetchval(
        "SELECT status FROM submissions WHERE submission_id = $1 AND status <> 'RECEIVED'",
        submission_id,
    )
    return value


async def rejection_codes(pool: asyncpg.Pool, submission_id: str) -> list[str]:
    """The reason codes recorded on a submission."""
    reasons = await pool.fetchval(
        "SELECT reasons FROM submissions WHERE submission_id = $1", submission_id
    )
    return [r["code"] for r in reasons or []]
