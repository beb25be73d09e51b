"""SQL of `billing_runs`: the inbox of billing run requests and their outcome."""

from __future__ import annotations

import datetime as dt

import asyncpg

from jamsos.domain.period import Period


async def begin_run(
    conn: asyncpg.Connection,
    request_id: str,
    content_hash: str,
    period: Period,
    requested_at: dt.datetime,
    now: dt.datetime,
) -> bool:
    """Record a run request as DONE (in the caller's transaction); False if already seen."""
    status = await conn.execute(
        """
        INSERT INTO billing_runs (request_id, content_hash, period, requested_at, processed_at,
                                  outcome)
        VALUES ($1, $2, $3, $4, $5, 'DONE')
        ON CONFLICT (request_id) DO NOTHING
        """,
        request_id,
        content_hash,
        str(period),
        requested_at,
        now,
    )
    return bool(status == "INSERT 0 1")


async def run_hash(conn: asyncpg.Connection, request_id: str) -> str | None:
    """The content hash of a recorded run request."""
    value: str | None = await conn.fetchval(
        "SELECT content_hash FROM billing_runs WHERE request_id = $1", request_id
    )
    return value


async def fail_run(conn: asyncpg.Connection, request_id: str, detail: str) -> None:
    """Mark a recorded run request as FAILED, with why."""
    await conn.execute(
        "UPDATE billing_runs SET outcome = 'FAILED', detail = $2 WHERE request_id = $1",
        request_id,
        detail,
    )


async def run_outcome(conn: asyncpg.Connection, request_id: str) -> tuple[str, str | None] | None:
    """(outcome, detail) of a processed billing run request; None while not processed."""
    row = await conn.fetchrow(
        "SELECT outcome, detail FROM billing_runs WHERE request_id = $1", request_id
    )
    return None if row is None else (row["outcome"], row["detail"])


async def run_processed(conn: asyncpg.Connection, request_id: str) -> bool:
    """Whether the billing service has processed this run request."""
    found = await conn.fetchval("SELECT true FROM billing_runs WHERE request_id = $1", request_id)
    return bool(found)
