"""The pool resets a connection's session on release only when it said it took session state;
an open transaction is always rolled back."""

from __future__ import annotations

import asyncpg
import pytest

from jamsos.adapters import db

pytestmark = pytest.mark.integration

LOCK = 991_100_011  # not one of adapters/locks.py's


async def _lock_is_free(database_url: str) -> bool:
    other = await asyncpg.connect(database_url)
    try:
        free = bool(await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK))
        if free:
            await other.execute("SELECT pg_advisory_unlock($1)", LOCK)
        return free
    finally:
        await other.close()


async def test_pooled_connection_that_changed_its_session_is_reset_on_release(
    database_url: str,
) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            db.changes_session(conn)
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
        assert await _lock_is_free(database_url)
    finally:
        await pool.close()


async def test_pooled_connection_session_is_kept_without_changes_session(
    database_url: str,
) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK)
        assert not await _lock_is_free(database_url)  # no reset round trip was made
    finally:
        await pool.close()


async def test_pooled_connection_open_transaction_is_rolled_back_on_release(
    database_url: str,
) -> None:
    pool = await db.create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE TABLE pool_reset_probe (n int)")
            await conn.execute("BEGIN")
            await conn.execute("INSERT INTO pool_reset_probe VALUES (1)")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM pool_reset_probe") == 0
    finally:
        await pool.close()
