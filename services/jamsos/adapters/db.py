"""asyncpg pool, JSON codecs, migration runner and the agency registry sync."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg

from jamsos.adapters.locks import AdvisoryLock
from jamsos.domain.policy import Agency

_MIGRATION_NAME = re.compile(r"[0-9]{4}_.+\.sql")
# The database roles of 0008_service_roles.sql (jamsos_<name>), each granted to a login by
# the deployment (docker-compose.yml: deploy/postgres-logins.sh).
ROLES = ("registration", "verification", "billing", "operator", "monitor")


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection that reads and writes json/jsonb as Python values (as the pool's do)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pool's connection: given back to the pool, an open transaction is rolled back (by
    asyncpg, always), the session itself is reset only after `changes_session`."""

    _session_changed = False

    def changes_session(self) -> None:
        """This connection takes session state (a session advisory lock, a LISTEN, a SET
        without LOCAL, a cursor WITH HOLD): reset the session when it goes back."""
        self._session_changed = True


def changes_session(conn: Any) -> None:
    """Say that `conn` is about to take session state (see PooledConnection); nothing for a
    connection of no pool."""
    mark = getattr(conn, "changes_session", None)
    if mark is not None:
        mark()


async def _reset_session(conn: PooledConnection) -> None:
    # asyncpg's own reset is one more round trip (advisory unlock all, CLOSE ALL, UNLISTEN,
    # RESET ALL) on every release, i.e. after every transaction of the hot path, which only
    # ever uses transaction-scoped state; it is kept for the connections that said otherwise.
    if conn._session_changed:
        conn._session_changed = False
        query = conn.get_reset_query()
        if query:
            await conn.execute(query)


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 8) -> asyncpg.Pool:
    """A pool whose connections read and write json/jsonb as Python values, and are reset on
    release only when they took session state (`changes_session`)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_reset_session,
        connection_class=PooledConnection,
        command_timeout=120,
    )
    assert pool is not None
    return pool


def migration_files() -> list[Traversable]:
    """The numbered SQL files (NNNN_name.sql) shipped in the package, in the order they apply."""
    directory = resources.files("jamsos").joinpath("migrations")
    found = [f for f in directory.iterdir() if _MIGRATION_NAME.fullmatch(f.name)]
    return sorted(found, key=lambda f: f.name)


class NotMigrated(ValueError):
    """Migrations are pending and this login may not apply them (a service role)."""


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; safe to re-run.

    A login without DDL rights (a service role, 0008_service_roles.sql) passes when nothing
    is pending and raises NotMigrated otherwise: the owner runs `jamsos db migrate`."""
    applied: list[str] = []
    changes_session(conn)
    await conn.execute("SELECT pg_advisory_lock($1)", AdvisoryLock.MIGRATION)
    try:
        if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NULL"):
            await conn.execute(
                "CREATE TABLE schema_migrations ("
                " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        pending = [f for f in migration_files() if f.name.removesuffix(".sql") not in done]
        if pending and not await conn.fetchval("SELECT has_schema_privilege('public', 'CREATE')"):
            user = await conn.fetchval("SELECT current_user")
            raise NotMigrated(
                f"the database lacks migrations {', '.join(f.name for f in pending)} and"
                f" user {user!r} may not apply them: run `jamsos db migrate` as the"
                " database owner first"
            )
        for file in pending:
            version = file.name.removesuffix(".sql")
            async with conn.transaction():
                await conn.execute(file.read_text("utf-8"))
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", AdvisoryLock.MIGRATION)
    return applied


class AgenciesDiffer(ValueError):
    """The agencies table differs from the configuration and this login may not change it."""


async def sync_agencies(conn: asyncpg.Connection, agencies: Sequence[Agency]) -> None:
    """Make the agencies table equal the configured registry (config is the source of truth).

    Writes only when they differ, so a service role (read-only on agencies) starts when the
    owner's `jamsos db migrate` has synced the same configuration, and says so otherwise."""
    wanted = sorted(
        (a.code, a.name, a.sector, a.payer_code, a.funding_source, a.quota) for a in agencies
    )
    rows = await conn.fetch(
        "SELECT code, name, sector, payer_code, funding_source, quota FROM agencies ORDER BY code"
    )
    if [tuple(r) for r in rows] == wanted:
        return
    if not await conn.fetchval("SELECT has_table_privilege('agencies', 'INSERT, UPDATE, DELETE')"):
        user = await conn.fetchval("SELECT current_user")
        raise AgenciesDiffer(
            f"the agencies in the database differ from this configuration and user {user!r}"
            " may not change them: run `jamsos db migrate` with this configuration as the"
            " database owner"
        )
    async with conn.transaction():
        await conn.execute(
            """
            INSERT INTO agencies (code, name, sector, payer_code, funding_source, quota)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::int[])
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, sector = EXCLUDED.sector,
                payer_code = EXCLUDED.payer_code, funding_source = EXCLUDED.funding_source,
                quota = EXCLUDED.quota
            """,
            [a.code for a in agencies],
            [a.name for a in agencies],
            [a.sector for a in agencies],
            [a.payer_code for a in agencies],
            [a.funding_source for a in agencies],
            [a.quota for a in agencies],
        )
        await conn.execute(
            "DELETE FROM agencies WHERE NOT (code = ANY($1::text[]))", [a.code for a in agencies]
        )
        # each agency's capacity row exists before a batch needs it (adapters/capacity.py)
        await conn.execute(
            "INSERT INTO capacity (scope, used) SELECT 'agency:' || c, 0"
            " FROM unnest($1::text[]) AS c ON CONFLICT (scope) DO NOTHING",
            [a.code for a in agencies],
        )


async def ensure_database(admin_dsn: str, name: str) -> None:
    """Create database `name` through `admin_dsn` if it does not exist."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{_identifier(name)}"')
    finally:
        await conn.close()


async def recreate_database(admin_dsn: str, name: str) -> None:
    """Drop (forcing connections off) and create database `name`."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{_identifier(name)}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{_identifier(name)}"')
    finally:
        await conn.close()


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    return name


def records(rows: Sequence[asyncpg.Record]) -> list[dict[str, Any]]:
    """Rows as plain dicts."""
    return [dict(r) for r in rows]
