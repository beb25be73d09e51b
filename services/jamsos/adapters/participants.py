"""SQL of `participants` (the enrolment side): counts for quotas, look-alike candidates,
membership numbers, and writing enrolments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from jamsos.adapters.arrays import text_array
from jamsos.domain.dedup import Group, Participant
from jamsos.usecases.rows import Enrolment


async def active_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Active participants per agency (what the `capacity` rows count; tests compare them)."""
    rows = await conn.fetch(
        "SELECT agency_code, count(*) AS n FROM participants WHERE status = 'ACTIVE'"
        " GROUP BY agency_code"
    )
    return {r["agency_code"]: r["n"] for r in rows}


async def deceased(conn: asyncpg.Connection, niks: Sequence[str]) -> set[str]:
    """NIKs among these that were terminated as deceased."""
    if not niks:
        return set()
    rows = await conn.fetch(
        "SELECT nik FROM participants WHERE nik = ANY($1::text::text[])"
        " AND termination_reason = 'DECEASED'",
        text_array(list(set(niks))),
    )
    return {r["nik"] for r in rows}


async def known_participants(
    conn: asyncpg.Connection, niks: Sequence[str]
) -> dict[str, tuple[str, dt.datetime | None]]:
    """Membership number (kept on re-enrolment) and last termination of known NIKs."""
    if not niks:
        return {}
    rows = await conn.fetch(
        "SELECT nik, membership_no, terminated_at FROM participants"
        " WHERE nik = ANY($1::text::text[])",
        text_array(list(set(niks))),
    )
    return {r["nik"]: (r["membership_no"], r["terminated_at"]) for r in rows}


async def next_serials(conn: asyncpg.Connection, count: int) -> list[int]:
    """`count` fresh membership serials."""
    if count == 0:
        return []
    rows = await conn.fetch(
        "SELECT nextval('membership_serial') AS n FROM generate_series(1, $1)", count
    )
    return [r["n"] for r in rows]


async def upsert_participants(conn: asyncpg.Connection, rows: Sequence[Enrolment]) -> None:
    """Insert new participants; re-activate terminated ones keeping their membership number."""
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO participants (nik, membership_no, full_name, birth_date, sex, village_code,
            kecamatan_code, agency_code, submission_id, payer_code, funding_source, status,
            enrolled_at, coverage_start, worker)
        SELECT n, m, f, b, s, v, k, a, i, p, fs, 'ACTIVE', e, c, w::jsonb
        FROM unnest($1::text::text[], $2::text::text[], $3::text::text[], $4::date[],
                    $5::text::text[], $6::text::text[], $7::text::text[], $8::text::text[],
                    $9::text::text[], $10::text::text[], $11::text::text[],
                    $12::timestamptz[], $13::date[], $14::text[])
            AS t(n, m, f, b, s, v, k, a, i, p, fs, e, c, w)
        ORDER BY n COLLATE "C"  -- rows locked in NIK order, as a termination locks them
        ON CONFLICT (nik) DO UPDATE SET
            full_name = EXCLUDED.full_name, birth_date = EXCLUDED.birth_date, sex = EXCLUDED.sex,
            village_code = EXCLUDED.village_code, kecamatan_code = EXCLUDED.kecamatan_code,
            agency_code = EXCLUDED.agency_code, submission_id = EXCLUDED.submission_id,
            payer_code = EXCLUDED.payer_code, funding_source = EXCLUDED.funding_source,
            status = 'ACTIVE', enrolled_at = EXCLUDED.enrolled_at,
            coverage_start = EXCLUDED.coverage_start, coverage_end = NULL,
            termination_reason = NULL, terminated_at = NULL, worker = EXCLUDED.worker
        WHERE participants.status = 'TERMINATED'
        """,
        text_array([r.nik for r in rows]),
        text_array([r.membership_no for r in rows]),
        text_array([r.full_name for r in rows]),
        [r.birth_date for r in rows],
        text_array([r.sex for r in rows]),
        text_array([r.village_code for r in rows]),
        text_array([r.kecamatan_code for r in rows]),
        text_array([r.agency_code for r in rows]),
        text_array([r.submission_id for r in rows]),
        text_array([r.payer_code for r in rows]),
        text_array([r.funding_source for r in rows]),
        [r.enrolled_at for r in rows],
        [r.coverage_start for r in rows],
        [r.worker_json for r in rows],  # long JSON: a list (adapters/arrays.py)
    )


IN_GROUPS = """
    SELECT p.membership_no, p.nik, p.full_name, p.birth_date, p.sex, p.village_code,
           p.agency_code
    FROM unnest($1::date[], $2::text::text[], $3::text::text[]) AS g(birth_date, sex, village_code)
    JOIN participants p ON p.birth_date = g.birth_date AND p.sex = g.sex
                       AND p.village_code = g.village_code
    WHERE p.status = 'ACTIVE'
"""


# Row locks on the groups, taken in key order (two batches never wait for each other in a
# cycle); an existing row is locked and not updated (WHERE false: no new version). Migration 0022.
LOCK_GROUPS = """
    INSERT INTO lookalike_groups (birth_date, sex, village_code)
    SELECT DISTINCT * FROM unnest($1::date[], $2::text::text[], $3::text::text[])
        AS g(birth_date, sex, village_code)
    ORDER BY 1, 2, 3
    ON CONFLICT (birth_date, sex, village_code) DO UPDATE SET sex = EXCLUDED.sex WHERE false
"""


async def lock_groups(conn: asyncpg.Connection, groups: Sequence[Group]) -> None:
    """Hold these look-alike groups until the transaction ends: a concurrent batch that
    compares a worker of one of them waits for this commit, then sees its enrolments."""
    if not groups:
        return
    unique = list(set(groups))  # the statement orders them
    await conn.execute(
        LOCK_GROUPS,
        [g[0] for g in unique],
        text_array([g[1] for g in unique]),
        text_array([g[2] for g in unique]),
    )


async def active_in_groups(conn: asyncpg.Connection, groups: Sequence[Group]) -> list[Participant]:
    """Active participants of any of these look-alike groups (birth date, sex, village): the
    candidates `Lookalikes` compares names with, found by the index on the three (0020)."""
    if not groups:
        return []
    unique = list(set(groups))
    rows = await conn.fetch(
        IN_GROUPS,
        [g[0] for g in unique],
        text_array([g[1] for g in unique]),
        text_array([g[2] for g in unique]),
    )
    return [Participant(**dict(r)) for r in rows]
