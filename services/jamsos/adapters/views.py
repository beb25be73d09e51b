"""Read-side SQL for `jamsos report`: plain queries, no domain model."""

from __future__ import annotations

from typing import Any

import asyncpg

from jamsos.domain.policy import Policy
from jamsos.domain.wilayah import kecamatan


async def registration_report(conn: asyncpg.Connection, policy: Policy) -> dict[str, Any]:
    """Outcome counts overall, per agency and per kecamatan, and progress towards the target."""
    outcomes = {
        r["status"]: r["n"]
        for r in await conn.fetch("SELECT status, count(*) AS n FROM submissions GROUP BY status")
    }
    per_agency_rows = await conn.fetch(
        """
        SELECT s.agency_code,
               count(*) AS submitted,
               count(*) FILTER (WHERE status = 'ENROLLED') AS enrolled,
               count(*) FILTER (WHERE status = 'DUPLICATE') AS duplicate,
               count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
               count(*) FILTER (WHERE status = 'REVIEW') AS held,
               count(*) FILTER (WHERE status = 'RECEIVED') AS in_flight
        FROM submissions s GROUP BY s.agency_code ORDER BY s.agency_code
        """
    )
    active = {
        r["agency_code"]: r["n"]
        for r in await conn.fetch(
            "SELECT agency_code, count(*) AS n FROM participants WHERE status = 'ACTIVE'"
            " GROUP BY agency_code"
        )
    }
    per_agency = []
    for row in per_agency_rows:
        agency = policy.agency(row["agency_code"])
        per_agency.append(
            {
                **dict(row),
                "name": agency.name if agency else "(unregistered)",
                "active": active.get(row["agency_code"], 0),
                "quota": agency.quota if agency else None,
            }
        )
    names = kecamatan()
    per_kecamatan = [
        {
            "kecamatan_code": r["kecamatan_code"],
            "kecamatan": names.get(r["kecamatan_code"], "?"),
            "active": r["n"],
        }
        for r in await conn.fetch(
            "SELECT kecamatan_code, count(*) AS n FROM participants WHERE status = 'ACTIVE'"
            " GROUP BY kecamatan_code ORDER BY kecamatan_code"
        )
    ]
    reasons = {
        r["code"]: r["n"]
        for r in await conn.fetch(
            """
            SELECT reason->>'code' AS code, count(*) AS n
            FROM submissions, jsonb_array_elements(reasons) AS reason
            WHERE status = 'REJECTED' GROUP BY 1 ORDER BY 2 DESC
            """
        )
    }
    active_total = sum(active.values())
    dead_letters = await conn.fetchval("SELECT count(*) FROM dead_letters")
    unpublished = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return {
        "outcomes": outcomes,
        "submissions": sum(outcomes.values()),
        "rejection_reasons": reasons,
        "per_agency": per_agency,
        "per_kecamatan": per_kecamatan,
        "progress": {
            "active": active_total,
            "target": policy.target,
            "ceiling": policy.ceiling,
            "percent": round(100.0 * active_total / policy.target, 1) if policy.target else None,
        },
        "dead_letters": dead_letters,
        "outbox_unpublished": unpublished,
    }


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
