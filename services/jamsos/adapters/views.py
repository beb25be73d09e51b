"""Read-side SQL for `jamsos report`: plain queries, no domain model."""

from __future__ import annotations

from typing import Any

import asyncpg


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


async def held_matching(
    conn: asyncpg.Connection, agency_code: str, submission_id: str, limit: int = 5
) -> list[tuple[str, str]]:
    """(submission_id, NIK) of the agency's submissions held for review whose id is
    `submission_id` or starts with it; the exact one first."""
    rows = await conn.fetch(
        "SELECT submission_id, nik FROM submissions WHERE agency_code = $1 AND status = 'REVIEW'"
        " AND starts_with(submission_id, $2)"
        " ORDER BY submission_id <> $2, received_at LIMIT $3",
        agency_code,
        submission_id,
        limit,
    )
    return [(r["submission_id"], r["nik"]) for r in rows]
