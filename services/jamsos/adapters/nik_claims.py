"""SQL of `nik_claims`: which submission holds each NIK (the de-duplication guarantee)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import asyncpg

from jamsos.adapters.arrays import text_array
from jamsos.usecases.rows import Claim, Holder, Identity


async def claim_niks(
    conn: asyncpg.Connection, claims: Sequence[Claim], claimed_at: dt.datetime
) -> set[Identity]:
    """Claim NIKs in the given order; returns the submissions that now hold their NIK."""
    if not claims:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO nik_claims (nik, agency_code, submission_id, claimed_at)
        SELECT n, a, i, $4
        FROM unnest($1::text::text[], $2::text::text[], $3::text::text[])
             WITH ORDINALITY AS t(n, a, i, o)
        ORDER BY n, o  -- one lock order for every consumer (no deadlocks); batch order per NIK
        ON CONFLICT (nik) DO NOTHING
        RETURNING agency_code, submission_id
        """,
        text_array([c.nik for c in claims]),
        text_array([c.agency_code for c in claims]),
        text_array([c.submission_id for c in claims]),
        claimed_at,
    )
    return {(r["agency_code"], r["submission_id"]) for r in rows}


async def claim_holders(conn: asyncpg.Connection, niks: Sequence[str]) -> dict[str, Holder]:
    """Current holder of each claimed NIK, with the membership number if it is enrolled."""
    if not niks:
        return {}
    rows = await conn.fetch(
        """
        SELECT c.nik, c.agency_code, c.submission_id, s.membership_no
        FROM nik_claims c
        JOIN submissions s USING (agency_code, submission_id)
        WHERE c.nik = ANY($1::text::text[])
        """,
        text_array(list(set(niks))),
    )
    return {
        r["nik"]: Holder(r["agency_code"], r["submission_id"], r["membership_no"]) for r in rows
    }


async def release_claims(conn: asyncpg.Connection, ids: Sequence[Identity]) -> None:
    """Free the NIKs held by these (rejected) submissions."""
    if not ids:
        return
    await conn.execute(
        """
        DELETE FROM nik_claims c
        USING unnest($1::text::text[], $2::text::text[]) AS t(a, i)
        WHERE c.agency_code = t.a AND c.submission_id = t.i
        """,
        text_array([a for a, _ in ids]),
        text_array([i for _, i in ids]),
    )
