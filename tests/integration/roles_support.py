"""Login users of the database roles (0008_service_roles.sql) for the tests: each holds one
`jamsos_<role>` only, as a deployment's login would (trust authentication: no password)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from jamsos.adapters import db

ROLES = db.ROLES


def as_user(dsn: str, user: str) -> str:
    """The same database's DSN for login `user` (trust authentication in the tests)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}@{host}:{parts.port}" if parts.port else f"{user}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


async def login_for(pool: asyncpg.Pool, role: str) -> str:
    """A login user that holds `jamsos_<role>` only (as a deployment would create)."""
    user = f"jamsos_test_{role}"
    exists = await pool.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", user)
    if not exists:
        with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
            await pool.execute(f'CREATE ROLE "{user}" LOGIN IN ROLE "jamsos_{role}"')
    return user


@pytest.fixture
async def role_urls(database_url: str, pool: asyncpg.Pool) -> dict[str, str]:
    return {role: as_user(database_url, await login_for(pool, role)) for role in ROLES}


@contextlib.asynccontextmanager
async def role_pool(url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(url, max_size=2)
    try:
        yield p
    finally:
        await p.close()
