"""SQL of `tariffs`: the effective-dated premium table."""

from __future__ import annotations

import asyncpg

from jamsos.domain.tariff import Tariff


async def tariffs(conn: asyncpg.Connection) -> list[Tariff]:
    """The effective-dated tariff table."""
    rows = await conn.fetch("SELECT effective_from, jkk, jkm FROM tariffs ORDER BY effective_from")
    return [Tariff(r["effective_from"], r["jkk"], r["jkm"]) for r in rows]
