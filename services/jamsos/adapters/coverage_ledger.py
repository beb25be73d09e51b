"""Write-side SQL of the billing ledger (`coverage`: one row per membership and coverage start,
filled from participant events), and how far it is behind the participants."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

from jamsos.adapters.arrays import text_array
from jamsos.domain.period import Period
from jamsos.usecases.rows import Enrolments, Terminated


async def record_enrolments(conn: asyncpg.Connection, rows: Enrolments, now: dt.datetime) -> int:
    """One statement: fill the enrolment columns of each coverage period unless a later
    enrolment is there, keeping the event's id in the row (`enrolled_event_id`), and claim the
    other new events in the ledger's inbox (`ledger_events`). Returns how many were new.

    An event is a repeat when its id is already its period's `enrolled_event_id` or in
    `ledger_events` (migration 0019: each applied enrolment is in one of the two), whatever
    the redelivery holds. `fresh` leaves out the ids in `ledger_events`; of several fresh
    events of one period (`rivals`, rare) the row's own id is left out before the latest is
    chosen, so that a changed redelivery cannot push out a new enrolment; a lone one that is
    the row's own id is refused by the upsert's condition. So the common case, an enrolment
    seen for the first time, costs one row write and one look-up in `ledger_events` instead of
    two writes. Of the fresh events of one period the latest `enrolled_at` is written (on a tie
    the first in the batch); DISTINCT ON picks it, since one INSERT … ON CONFLICT DO UPDATE may
    not touch a row twice. The others are claimed in `ledger_events`, unless their row has
    them already (a repeat). `enrolled_us` becomes the timestamptz it counts.

    The look-ups read coverage and `ledger_events` as the statement found them. The written ids
    are left out of the claim with NOT IN, a hashed subplan whatever the estimates: as an
    anti-join, the generic plan of this prepared statement (PostgreSQL expects `unnest` to give
    10 rows) was a nested loop over both lists, ~500,000 comparisons a chunk (intake 130,000 ->
    44,000/s). An id is recognised within its coverage period: the contract's ids identify one
    content, so the same id for another membership or period (a broken producer) would be
    applied as new.
    Two instances applying the same event at once (a rebalance) write it once (the row lock
    orders them, the second finds an equal `enrolled_at`), but the second may count it new and
    claim it in `ledger_events` too: a repeat miscounted, never an effect doubled.
    """
    if not rows:
        return 0
    new: int = await conn.fetchval(
        """
        WITH r AS (
            SELECT *
            FROM unnest($2::uuid[], $3::text::text[], $4::date[], $5::text::text[],
                        $6::text::text[], $7::text::text[], $8::text::text[], $9::bigint[])
                 WITH ORDINALITY
                 AS r(event_id, membership_no, coverage_start, nik, agency_code, payer_code,
                      funding_source, enrolled_us, n)
        ), fresh AS (
            -- the window's ORDER BY only lets DISTINCT ON below reuse its sort
            SELECT r.*, count(*) OVER (
                       PARTITION BY r.membership_no COLLATE "C", r.coverage_start
                       ORDER BY r.enrolled_us DESC, r.n
                       ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS rivals
            FROM r
            WHERE NOT EXISTS (SELECT FROM ledger_events l WHERE l.event_id = r.event_id)
        ), latest AS (
            SELECT DISTINCT ON (f.membership_no COLLATE "C", f.coverage_start) f.*
            FROM fresh f
            WHERE f.rivals = 1 OR NOT EXISTS (
                SELECT FROM coverage c
                WHERE c.membership_no = f.membership_no AND c.coverage_start = f.coverage_start
                  AND c.enrolled_event_id = f.event_id)
            ORDER BY f.membership_no COLLATE "C", f.coverage_start, f.enrolled_us DESC, f.n
        ), written AS (
            INSERT INTO coverage AS c (membership_no, coverage_start, nik, agency_code,
                                       payer_code, funding_source, enrolled_at,
                                       enrolled_event_id)
            SELECT membership_no, coverage_start, nik, agency_code, payer_code, funding_source,
                   timestamptz 'epoch' + enrolled_us * interval '1 microsecond', event_id
            FROM latest
            ON CONFLICT (membership_no, coverage_start) DO UPDATE SET
                nik = EXCLUDED.nik, agency_code = EXCLUDED.agency_code,
                payer_code = EXCLUDED.payer_code, funding_source = EXCLUDED.funding_source,
                enrolled_at = EXCLUDED.enrolled_at,
                enrolled_event_id = EXCLUDED.enrolled_event_id
            WHERE (c.enrolled_at IS NULL OR EXCLUDED.enrolled_at > c.enrolled_at)
              AND c.enrolled_event_id IS DISTINCT FROM EXCLUDED.enrolled_event_id
            RETURNING c.enrolled_event_id
        ), claimed AS (
            INSERT INTO ledger_events (event_id, processed_at)
            SELECT f.event_id, $1
            FROM fresh f
            WHERE f.event_id NOT IN (
                SELECT enrolled_event_id FROM written WHERE enrolled_event_id IS NOT NULL)
              AND NOT EXISTS (
                  SELECT FROM coverage c
                  WHERE c.membership_no = f.membership_no AND c.coverage_start = f.coverage_start
                    AND c.enrolled_event_id = f.event_id)
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id
        )
        SELECT (SELECT count(*) FROM written) + (SELECT count(*) FROM claimed)
        """,
        now,
        rows.event_ids,
        text_array(rows.membership_no),
        rows.coverage_start,
        text_array(rows.nik),
        text_array(rows.agency_code),
        text_array(rows.payer_code),
        text_array(rows.funding_source),
        rows.enrolled_us,
    )
    return new


async def claim_events(
    conn: asyncpg.Connection, ids: Sequence[uuid.UUID], now: dt.datetime
) -> set[uuid.UUID]:
    """Record event ids in the ledger's inbox; returns those that were new."""
    if not ids:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO ledger_events (event_id, processed_at)
        SELECT e, $1 FROM unnest($2::uuid[]) AS e
        ON CONFLICT (event_id) DO NOTHING
        RETURNING event_id
        """,
        now,
        list(ids),
    )
    return {r["event_id"] for r in rows}


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
