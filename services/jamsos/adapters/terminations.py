"""Write-side SQL of terminations (enrolment side): participants, NIK claims, the request log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from jamsos.usecases.rows import LoggedRequest, ParticipantState


async def participants(
    conn: asyncpg.Connection, niks: Sequence[str]
) -> dict[str, ParticipantState]:
    """The participants with these NIKs, locked for this transaction in NIK order (so that
    overlapping batches wait for each other rather than deadlock: adapters/submissions.py)."""
    if not niks:
        return {}
    rows = await conn.fetch(
        """
        SELECT nik, membership_no, agency_code, status, coverage_start, coverage_end,
               termination_reason, terminated_at, enrolled_at
        FROM participants WHERE nik = ANY($1::text[])
        ORDER BY nik COLLATE "C"
        FOR UPDATE
        """,
        list(set(niks)),
    )
    return {r["nik"]: ParticipantState(**dict(r)) for r in rows}


async def release_claims(conn: asyncpg.Connection, niks: Sequence[str]) -> None:
    """Free the NIK claims held by these participants' own enrolments (not by newer submissions)."""
    if not niks:
        return
    await conn.execute(
        """
        DELETE FROM nik_claims c
        USING participants p
        WHERE p.nik = ANY($1::text[]) AND c.nik = p.nik
          AND c.agency_code = p.agency_code AND c.submission_id = p.submission_id
        """,
        list(niks),
    )


async def write_states(conn: asyncpg.Connection, states: Sequence[ParticipantState]) -> None:
    """Store the termination columns and status of these participants."""
    if not states:
        return
    await conn.execute(
        """
        UPDATE participants p
        SET status = t.st, coverage_end = t.e, termination_reason = t.r, terminated_at = t.at
        FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::timestamptz[])
            AS t(n, st, e, r, at)
        WHERE p.nik = t.n
        """,
        [s.nik for s in states],
        [s.status for s in states],
        [s.coverage_end for s in states],
        [s.termination_reason for s in states],
        [s.terminated_at for s in states],
    )


async def log_requests(
    conn: asyncpg.Connection, rows: Sequence[LoggedRequest], decided_at: dt.datetime
) -> None:
    """Keep each processed request for audit (a repeated request id is ignored)."""
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO termination_requests (request_id, agency_code, nik, reason, effective_date,
            status, membership_no, participant_agency_code, coverage_end, decided_at)
        SELECT i, a, n, r, d, s, m, pa, e, $10
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[],
                    $7::text[], $8::text[], $9::date[]) AS t(i, a, n, r, d, s, m, pa, e)
        ON CONFLICT (request_id) DO NOTHING
        """,
        [r.request_id for r in rows],
        [r.agency_code for r in rows],
        [r.nik for r in rows],
        [r.reason for r in rows],
        [r.effective_date for r in rows],
        [r.status for r in rows],
        [r.membership_no for r in rows],
        [r.participant_agency_code for r in rows],
        [r.coverage_end for r in rows],
        decided_at,
    )


async def terminations_processed(conn: asyncpg.Connection, request_ids: Sequence[str]) -> bool:
    """Whether the enrolment side has processed every one of these termination requests."""
    done = await conn.fetchval(
        "SELECT count(*) = cardinality($1::text[]) FROM termination_requests"
        " WHERE request_id = ANY($1::text[])",
        list(request_ids),
    )
    return bool(done)
