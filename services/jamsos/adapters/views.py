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


async def held_nik(conn: asyncpg.Connection, agency_code: str, submission_id: str) -> str | None:
    """The NIK of a submission held for review, or None when it is not held."""
    nik: str | None = await conn.fetchval(
        "SELECT nik FROM submissions WHERE agency_code = $1 AND submission_id = $2"
        " AND status = 'REVIEW'",
        agency_code,
        submission_id,
    )
    return nik
