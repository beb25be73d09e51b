"""Read SQL of `jamsos participant show NIK`: one person's whole history as JSON-ready values.

Everything is read in one REPEATABLE READ transaction, so the parts agree with each other.
Timestamps are ISO-8601 in Asia/Jakarta, dates `YYYY-MM-DD`, money integer Rupiah.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from jamsos.domain.coverage import JAKARTA

# submissions.status → the contract's outcome names (`in_flight`: no outcome yet).
OUTCOMES = {
    "ENROLLED": "enrolled",
    "DUPLICATE": "duplicate",
    "REJECTED": "rejected",
    "REVIEW": "review_required",
    "RECEIVED": "in_flight",
}
# What the `status` of someone who never became a participant reads.
NOT_ENROLLED = "NOT_ENROLLED"


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(JAKARTA).isoformat()
    return value.isoformat()


def _values(row: asyncpg.Record) -> dict[str, Any]:
    """A row as a dict with its dates and timestamps as ISO text."""
    return {k: _iso(v) if isinstance(v, dt.date) else v for k, v in dict(row).items()}


async def _submissions(conn: asyncpg.Connection, nik: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT agency_code, submission_id, payload->>'submitted_at' AS submitted_at,
               payload->'worker'->>'full_name' AS full_name, received_at, status, decided_at,
               coalesce(reasons, '[]'::jsonb) AS reasons, membership_no, existing_agency_code,
               candidates, reviewed_by
        FROM submissions WHERE nik = $1 ORDER BY received_at, agency_code, submission_id
        """,
        nik,
    )
    result = []
    for r in rows:
        review = None
        if r["candidates"] is not None:  # it was held as a look-alike
            decided = r["status"] != "REVIEW"
            review = {
                "candidates": r["candidates"],
                "decision": {"ENROLLED": "ENROL", "DUPLICATE": "DUPLICATE"}.get(r["status"])
                if decided
                else None,
                "decided_by": r["reviewed_by"],
                "decided_at": _iso(r["decided_at"]) if decided else None,
            }
        result.append(
            {
                "agency_code": r["agency_code"],
                "submission_id": r["submission_id"],
                "full_name": r["full_name"],
                "submitted_at": r["submitted_at"],
                "received_at": _iso(r["received_at"]),
                "outcome": OUTCOMES[r["status"]],
                "decided_at": _iso(r["decided_at"]),
                "reasons": r["reasons"],
                "membership_no": r["membership_no"],
                "existing_agency_code": r["existing_agency_code"],
                "review": review,
            }
        )
    return result


async def _participant(conn: asyncpg.Connection, nik: str) -> dict[str, Any] | None:
    r = await conn.fetchrow(
        """
        SELECT membership_no, full_name, birth_date, sex, village_code, kecamatan_code,
               agency_code, submission_id, payer_code, funding_source, status, enrolled_at,
               coverage_start, coverage_end, termination_reason, terminated_at
        FROM participants WHERE nik = $1
        """,
        nik,
    )
    if r is None:
        return None
    return _values(r)


async def _coverage(
    conn: asyncpg.Connection, nik: str, membership_no: str | None
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT membership_no, coverage_start, coverage_end, agency_code, payer_code,
               funding_source, enrolled_at, terminated_at
        FROM coverage WHERE nik = $1 OR membership_no = $2 ORDER BY coverage_start
        """,
        nik,
        membership_no,
    )
    return [_values(r) for r in rows]


async def _terminations(conn: asyncpg.Connection, nik: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT request_id, agency_code, reason, effective_date, status, membership_no,
               participant_agency_code, coverage_end, decided_at
        FROM termination_requests WHERE nik = $1 ORDER BY decided_at, request_id
        """,
        nik,
    )
    return [_values(r) for r in rows]


async def _charges(
    conn: asyncpg.Connection, nik: str, membership_no: str | None
) -> list[dict[str, Any]]:
    # a period's charges in the order their runs made them: charge_id is only increasing
    # within a session (its sequence hands each session a block, migration 0018)
    rows = await conn.fetch(
        """
        SELECT ch.period, ch.amount, ch.invoice_no, ch.jkk, ch.jkm, ch.agency_code,
               ch.payer_code, ch.funding_source, i.status AS invoice_status,
               ch.credit_invoice_no, ch.credited_at
        FROM charges ch LEFT JOIN invoices i ON i.invoice_no = ch.invoice_no
        WHERE ch.nik = $1 OR ch.membership_no = $2
        ORDER BY ch.period, ch.accrued_at, ch.charge_id
        """,
        nik,
        membership_no,
    )
    return [_values(r) for r in rows]


async def participant_history(conn: asyncpg.Connection, nik: str) -> dict[str, Any] | None:
    """Every submission, review, enrolment, coverage period, termination and charge of `nik`;
    None when jamsos has never heard of it."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        submissions = await _submissions(conn, nik)
        participant = await _participant(conn, nik)
        terminations = await _terminations(conn, nik)
        if not submissions and participant is None and not terminations:
            return None
        membership_no = participant["membership_no"] if participant else None
        return {
            "nik": nik,
            "membership_no": membership_no,
            "status": participant["status"] if participant else NOT_ENROLLED,
            "participant": participant,
            "submissions": submissions,
            "coverage": await _coverage(conn, nik, membership_no),
            "terminations": terminations,
            "charges": await _charges(conn, nik, membership_no),
        }
