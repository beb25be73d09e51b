"""Write-side SQL of the billing ledger (`coverage`: one row per membership and coverage start,
filled from participant events), and how far it is behind the participants."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from jamsos.domain.period import Period
from jamsos.usecases.rows import Enrolled, Terminated


async def record_enrolments(conn: asyncpg.Connection, rows: Sequence[Enrolled]) -> None:
    """Fill the enrolment columns of each coverage period unless a later enrolment is there.

    `rows` must hold one row per (membership_no, coverage_start).
    """
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO coverage AS c (membership_no, coverage_start, nik, agency_code, payer_code,
                                   funding_source, enrolled_at)
        SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::timestamptz[])
        ON CONFLICT (membership_no, coverage_start) DO UPDATE SET
            nik = EXCLUDED.nik, agency_code = EXCLUDED.agency_code,
            payer_code = EXCLUDED.payer_code, funding_source = EXCLUDED.funding_source,
            enrolled_at = EXCLUDED.enrolled_at
        WHERE c.enrolled_at IS NULL OR EXCLUDED.enrolled_at > c.enrolled_at
        """,
        [r.membership_no for r in rows],
        [r.coverage_start for r in rows],
        [r.nik for r in rows],
        [r.agency_code for r in rows],
        [r.payer_code for r in rows],
        [r.funding_source for r in rows],
        [r.enrolled_at for r in rows],
    )


async def record_terminations(conn: asyncpg.Connection, rows: Sequence[Terminated]) -> None:
    """Fill the termination columns of each coverage period unless a later one is there.

    The row is created if the enrolled event has not arrived yet. One row per key.
    """
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO coverage AS c (membership_no, coverage_start, nik, terminated_at, ended_on)
        SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::timestamptz[], $5::date[])
        ON CONFLICT (membership_no, coverage_start) DO UPDATE SET
            terminated_at = EXCLUDED.terminated_at, ended_on = EXCLUDED.ended_on
        WHERE c.terminated_at IS NULL OR EXCLUDED.terminated_at > c.terminated_at
        """,
        [r.membership_no for r in rows],
        [r.coverage_start for r in rows],
        [r.nik for r in rows],
        [r.terminated_at for r in rows],
        [r.coverage_end for r in rows],
    )


async def ledger_behind(conn: asyncpg.Connection) -> int:
    """Participants whose current coverage period is missing from the ledger or ends otherwise."""
    value: int = await conn.fetchval(
        """
        SELECT count(*) FROM participants p
        WHERE NOT EXISTS (
            SELECT 1 FROM coverage c
            WHERE c.membership_no = p.membership_no AND c.coverage_start = p.coverage_start
              AND c.payer_code IS NOT NULL
              AND c.coverage_end IS NOT DISTINCT FROM p.coverage_end)
        """
    )
    return value


async def covered_in(conn: asyncpg.Connection, period: Period) -> int:
    """Memberships covered for the whole of `period` (the accrual rule), whatever was billed."""
    value: int = await conn.fetchval(
        "SELECT count(DISTINCT membership_no) FROM coverage"
        " WHERE payer_code IS NOT NULL AND coverage_start <= $1"
        " AND (coverage_end IS NULL OR coverage_end >= $2)",
        period.first_day,
        period.last_day,
    )
    return value
