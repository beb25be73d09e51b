"""Read SQL behind `jamsos submit` and `jamsos submission status`: an agency's submissions by
id or by NIK with their outcomes, and which of the values just published were dead-lettered."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from jamsos.usecases.rows import Known


async def agency_submissions(
    conn: asyncpg.Connection, agency_code: str, ids: Sequence[str], niks: Sequence[str]
) -> list[Known]:
    """The agency's submissions with one of these ids or NIKs, oldest first."""
    rows = await conn.fetch(
        """
        WITH wanted AS (  -- joins, not `= ANY`: a file's 26,000 ids stay one hash join
            SELECT s.agency_code, s.submission_id FROM submissions s
            JOIN unnest($2::text[]) AS t(i) ON s.agency_code = $1 AND s.submission_id = t.i
            UNION
            SELECT s.agency_code, s.submission_id FROM submissions s
            JOIN unnest($3::text[]) AS t(n) ON s.agency_code = $1 AND s.nik = t.n
        )
        SELECT s.submission_id, s.nik, s.status, s.content_hash, s.received_at, s.reasons,
               s.membership_no, s.existing_agency_code,
               own.coverage_start,
               active.membership_no AS existing_membership_no,
               c.nik IS NOT NULL AS holds_claim
        FROM wanted w
        JOIN submissions s USING (agency_code, submission_id)
        LEFT JOIN participants own
            ON own.agency_code = s.agency_code AND own.submission_id = s.submission_id
        LEFT JOIN participants active ON active.nik = s.nik AND active.status = 'ACTIVE'
        LEFT JOIN nik_claims c
            ON c.agency_code = s.agency_code AND c.submission_id = s.submission_id
        ORDER BY s.received_at, s.submission_id
        """,
        agency_code,
        list(ids),
        list(niks),
    )
    return [
        Known(
            submission_id=r["submission_id"],
            nik=r["nik"],
            status=r["status"],
            content_hash=r["content_hash"],
            received_at=r["received_at"],
            reasons=_json_list(r["reasons"]),
            membership_no=r["membership_no"],
            coverage_start=r["coverage_start"],
            existing_agency_code=r["existing_agency_code"],
            existing_membership_no=r["existing_membership_no"],
            holds_claim=r["holds_claim"],
        )
        for r in rows
    ]


def _json_list(value: object) -> list[dict[str, Any]]:
    if value is None:
        return []
    parsed = json.loads(value) if isinstance(value, str) else value
    return list(parsed) if isinstance(parsed, list) else []


async def database_now(conn: asyncpg.Connection) -> dt.datetime:
    """The database's clock (dead letters are stamped by the services, compare on one clock)."""
    now: dt.datetime = await conn.fetchval("SELECT now()")
    return now


async def dead_letters_since(
    conn: asyncpg.Connection, topic: str, since: dt.datetime
) -> list[tuple[bytes, str]]:
    """Values and errors of the dead letters from `topic` recorded since `since`."""
    rows = await conn.fetch(
        "SELECT value, error FROM dead_letters WHERE source_topic = $1 AND failed_at >= $2",
        topic,
        since,
    )
    return [(bytes(r["value"]), r["error"]) for r in rows]


@dataclass(frozen=True)
class Termination:
    """What a processed termination request did."""

    status: str  # TERMINATED | NOT_FOUND
    membership_no: str | None
    coverage_end: dt.date | None


async def termination(conn: asyncpg.Connection, request_id: str) -> Termination | None:
    """The outcome of a termination request, once the enrolment side processed it."""
    row = await conn.fetchrow(
        "SELECT status, membership_no, coverage_end FROM termination_requests"
        " WHERE request_id = $1",
        request_id,
    )
    return None if row is None else Termination(**dict(row))
