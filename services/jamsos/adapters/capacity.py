"""SQL of `capacity`: places used against the regency ceiling and each agency's quota.

Rows are locked in one order by every transaction (the regency's first, then agencies in
descending scope order), so concurrent enrolment and termination batches never deadlock on
them. The regency row is the one place where enrolment decisions meet; a transaction holds it
from its capacity step to its commit, not for its reads (usecases/verification.py).
`recount` (the operator's repair) takes them in the same order (migration 0017).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import asyncpg

from jamsos.adapters.db import NotMigrated
from jamsos.usecases.rows import CapacityChange

REGENCY = "regency"


def _scope(agency_code: str) -> str:
    return f"agency:{agency_code}"


async def _ensure(conn: asyncpg.Connection, agencies: Sequence[str]) -> None:
    """Create missing agency rows (an existing row is neither changed nor locked)."""
    if agencies:
        await conn.execute(
            "INSERT INTO capacity (scope, used) SELECT s, 0 FROM unnest($1::text[]) AS s"
            " ON CONFLICT (scope) DO NOTHING",
            sorted({_scope(a) for a in agencies}),
        )


async def places(
    conn: asyncpg.Connection, agencies: Sequence[str], lock: bool
) -> tuple[dict[str, int], int]:
    """Places used by these agencies and in the regency; with `lock`, the rows stay locked
    until the transaction ends (and a missing agency row is created first: that insert waits
    for a concurrent one of the same row, so an unlocked read never creates rows)."""
    if lock:
        await _ensure(conn, agencies)
    rows = await conn.fetch(
        "SELECT scope, used FROM capacity WHERE scope = ANY($1::text[])"
        ' ORDER BY scope COLLATE "C" DESC' + (" FOR UPDATE" if lock else ""),
        [REGENCY, *sorted({_scope(a) for a in agencies})],
    )
    used = {r["scope"]: r["used"] for r in rows}
    total = used.pop(REGENCY, 0)
    return ({s.removeprefix("agency:"): n for s, n in used.items()}, total)


async def use(
    conn: asyncpg.Connection,
    deltas: Mapping[str, int],
    quotas: Mapping[str, int | None],
    ceiling: int | None,
) -> bool:
    """Add `deltas` (agency → places, negative to free them) to the agencies and their sum to
    the regency, each row only if it stays within its limit (`quotas`, `ceiling`; None: no
    limit); True if every row took its share. On False (a limit, or a row missing) some rows
    may have: the caller rolls the transaction back."""
    deltas = {a: n for a, n in deltas.items() if n}
    if not deltas:
        return True
    scopes = [REGENCY, *sorted((_scope(a) for a in deltas), reverse=True)]
    amounts = [sum(deltas.values()), *(deltas[s.removeprefix("agency:")] for s in scopes[1:])]
    limits = [ceiling, *(quotas.get(s.removeprefix("agency:")) for s in scopes[1:])]
    # the rows are locked one by one in this order, then added to where they have room
    await conn.execute(
        "SELECT 1 FROM capacity WHERE scope = ANY($1::text[])"
        ' ORDER BY scope COLLATE "C" DESC FOR UPDATE',
        scopes,
    )
    updated = await conn.fetch(
        """
        UPDATE capacity c SET used = c.used + d.n
        FROM unnest($1::text[], $2::int[], $3::int[]) AS d(scope, n, cap)
        WHERE c.scope = d.scope AND (d.cap IS NULL OR d.n <= 0 OR c.used + d.n <= d.cap)
        RETURNING c.scope
        """,
        scopes,
        amounts,
        limits,
    )
    return len(updated) == len(scopes)


async def recount(conn: asyncpg.Connection) -> list[CapacityChange]:
    """Set every counter to the active participants of its scope, creating missing rows, under
    the rows' locks in the order above (call it in a READ COMMITTED transaction; the rows stay
    locked to its end); the counters it changed. The SQL is the SECURITY DEFINER function
    `capacity_recount()` of migration 0017, which says why it is safe next to verification:
    the operator may run it but not write `capacity` itself."""
    try:
        rows = await conn.fetch("SELECT scope, used_before, used_after FROM capacity_recount()")
    except asyncpg.UndefinedFunctionError as error:
        raise NotMigrated(
            "the database lacks migration 0017_capacity_recount: run `jamsos db migrate` as the"
            " database owner first"
        ) from error
    return [CapacityChange(r["scope"], r["used_before"], r["used_after"]) for r in rows]
