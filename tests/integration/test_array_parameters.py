"""Array parameters sent as one literal (adapters/arrays.py) read back as the same values."""

from __future__ import annotations

import random

import asyncpg
import pytest

from jamsos.adapters.arrays import text_array

pytestmark = pytest.mark.integration

TRICKY = ["", "NULL", '"', "\\", '","', '\\"', "a,b", "{x}", " spaced ", "é\t\n", "'", '\\\\"']


async def test_text_array_literals_read_back_as_the_same_texts(pool: asyncpg.Pool) -> None:
    """Quotes, backslashes, separators, braces, NULL-like words and empty texts come back as
    they were, in order; None comes back as NULL."""
    rnd = random.Random(11)
    cases: list[list[str | None]] = [[], [""], ["NULL"], [None], [None, "NULL", None]]
    cases += [list(TRICKY), [f"KDS-{i:09d}" for i in range(50)]]
    cases += [rnd.choices(TRICKY, k=rnd.randint(1, 6)) for _ in range(200)]
    cases += [rnd.choices([*TRICKY, None], k=rnd.randint(1, 6)) for _ in range(200)]
    for values in cases:
        assert await pool.fetchval("SELECT $1::text::text[]", text_array(values)) == values


async def test_a_literal_joins_and_filters_like_the_list(pool: asyncpg.Pool) -> None:
    """`= ANY($1::text::text[])` and `unnest` give what the list parameter gives."""
    values = [f"3319{i:012d}" for i in range(300)]
    async with pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE t_arrays (nik text PRIMARY KEY)")
        await conn.execute("INSERT INTO t_arrays SELECT unnest($1::text[])", values[::3])
        by_list = await conn.fetch("SELECT nik FROM t_arrays WHERE nik = ANY($1::text[])", values)
        by_literal = await conn.fetch(
            "SELECT nik FROM t_arrays WHERE nik = ANY($1::text::text[])", text_array(values)
        )
        join = "SELECT t.nik, o FROM t_arrays t JOIN unnest({}) WITH ORDINALITY AS u(n, o)"
        join += " ON t.nik = u.n ORDER BY o"
        joined_list = await conn.fetch(join.format("$1::text[]"), values)
        joined_literal = await conn.fetch(join.format("$1::text::text[]"), text_array(values))
    assert sorted(r["nik"] for r in by_literal) == sorted(r["nik"] for r in by_list)
    assert sorted(r["nik"] for r in by_list) == values[::3]
    assert [tuple(r) for r in joined_literal] == [tuple(r) for r in joined_list]
    assert [r["nik"] for r in joined_list] == values[::3]
