"""Look-alike candidates are read by group (birth date, sex, village), through its index."""

from __future__ import annotations

import datetime as dt
import itertools

import asyncpg
import pytest

from jamsos.adapters.arrays import text_array
from jamsos.adapters.participants import IN_GROUPS, active_in_groups

pytestmark = pytest.mark.integration

DAYS = (dt.date(1980, 1, 1), dt.date(1980, 1, 2))
SEXES = ("F", "M")
VILLAGES = ("3319012001", "3319012002")


async def _add(
    conn: asyncpg.Connection, n: int, day: dt.date, sex: str, village: str, status: str
) -> None:
    await conn.execute(
        """
        INSERT INTO participants (nik, membership_no, full_name, birth_date, sex, village_code,
                                  kecamatan_code, agency_code, submission_id, payer_code,
                                  funding_source, status, enrolled_at, coverage_start, worker)
        VALUES ($1, $2, 'Siti Aminah', $3, $4, $5, '331901', 'DINSOS', $2, 'PEMKAB-KUDUS',
                'APBD', $6, now(), '2025-01-01', '{}')
        """,
        f"3319{n:012d}",
        f"KDS-{n:09d}",
        day,
        sex,
        village,
        status,
    )


async def test_only_active_participants_of_the_asked_groups_are_read(pool: asyncpg.Pool) -> None:
    """Of every combination of two birth dates, sexes and villages, active and terminated, the
    store returns exactly the active participants of the groups asked for (a group asked twice
    returns its participants once)."""
    async with pool.acquire() as conn:
        n = itertools.count()
        for day, sex, village in itertools.product(DAYS, SEXES, VILLAGES):
            for status in ("ACTIVE", "ACTIVE", "TERMINATED"):
                await _add(conn, next(n), day, sex, village, status)
        asked = [
            (DAYS[0], "F", VILLAGES[1]),
            (DAYS[1], "M", VILLAGES[0]),
            (DAYS[0], "F", VILLAGES[1]),
        ]
        found = await active_in_groups(conn, asked)
        assert await active_in_groups(conn, []) == []
        assert await active_in_groups(conn, [(dt.date(1999, 9, 9), "F", VILLAGES[0])]) == []
    assert len(found) == 4
    assert {(p.birth_date, p.sex, p.village_code) for p in found} == set(asked)
    assert len({p.nik for p in found}) == 4


async def test_the_candidates_are_found_by_the_group_index(pool: asyncpg.Pool) -> None:
    """With 20,000 participants (~20 a birth date), the generic plan of the statement, which a
    long-running service's prepared statement ends up with, probes
    `participants_lookalike_group` (0020) on all three keys for each group asked: its cost
    follows the candidates, not the participants of a birth date. (A plan for the values may
    hash a table this small instead, which is cheaper there.)"""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """
            INSERT INTO participants (nik, membership_no, full_name, birth_date, sex,
                                      village_code, kecamatan_code, agency_code, submission_id,
                                      payer_code, funding_source, status, enrolled_at,
                                      coverage_start, worker)
            SELECT '3319' || lpad(i::text, 12, '0'), 'KDS-' || lpad(i::text, 9, '0'), 'Siti',
                   date '1970-01-01' + i % 1000, CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END,
                   '33190120' || lpad((i % 10)::text, 2, '0'), '331901', 'DINSOS', 'S-' || i,
                   'PEMKAB-KUDUS', 'APBD', 'ACTIVE', now(), '2025-01-01', '{}'
            FROM generate_series(1, 20000) AS i
            """
        )
        await conn.execute("ANALYZE participants")
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE in_groups (date[], text, text) AS {IN_GROUPS}")
        days = ",".join(str(dt.date(1970, 1, 1) + dt.timedelta(days=i)) for i in range(2000))
        sexes, villages = text_array(["F"] * 2000), text_array(["3319012001"] * 2000)
        plan = await conn.fetch(
            f"EXPLAIN EXECUTE in_groups ('{{{days}}}', '{sexes}', '{villages}')"
        )
        await conn.execute("DEALLOCATE in_groups")  # session state on a pooled connection
    text = "\n".join(r[0] for r in plan)
    assert "Index Scan using participants_lookalike_group" in text, text
    condition = "Index Cond: ((birth_date = g.birth_date) AND (sex = g.sex)"
    assert condition + " AND (village_code = g.village_code))" in text, text
