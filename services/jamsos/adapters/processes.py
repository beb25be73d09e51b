"""The `service_processes` table: which service processes run where (for `jamsos ops health`)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

# A process refreshes its heartbeat every monitor interval (seconds); a row this old is
# forgotten (deleted by the next heartbeat of any process, ignored by `ops health`).
FORGET_AFTER = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class ServiceProcess:
    """One running (or silently dead) service process."""

    id: uuid.UUID
    host: str
    http_port: int
    services: list[str]
    pid: int
    started_at: dt.datetime
    silent: dt.timedelta  # since its last heartbeat, by the database's clock


async def register(
    conn: asyncpg.Connection,
    process_id: uuid.UUID,
    host: str,
    http_port: int,
    services: Sequence[str],
    pid: int,
) -> None:
    """Record this process (again, after a lost row: the same id is updated)."""
    await conn.execute(
        """
        INSERT INTO service_processes (id, host, http_port, services, pid)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
        """,
        process_id,
        host,
        http_port,
        list(services),
        pid,
    )


async def heartbeat(conn: asyncpg.Connection, process_id: uuid.UUID) -> bool:
    """Refresh this process's heartbeat and forget long-silent rows; False if its row is gone."""
    await conn.execute(
        "DELETE FROM service_processes WHERE heartbeat_at < now() - $1::interval", FORGET_AFTER
    )
    status: str = await conn.execute(
        "UPDATE service_processes SET heartbeat_at = now() WHERE id = $1", process_id
    )
    return status != "UPDATE 0"


async def unregister(conn: asyncpg.Connection, process_id: uuid.UUID) -> None:
    """Delete this process's row (clean stop)."""
    await conn.execute("DELETE FROM service_processes WHERE id = $1", process_id)


async def running(conn: asyncpg.Connection) -> list[ServiceProcess]:
    """Every process with a heartbeat in the last FORGET_AFTER, oldest first."""
    rows = await conn.fetch(
        """
        SELECT id, host, http_port, services, pid, started_at, now() - heartbeat_at AS silent
        FROM service_processes WHERE heartbeat_at >= now() - $1::interval
        ORDER BY started_at, id
        """,
        FORGET_AFTER,
    )
    return [ServiceProcess(**dict(r)) for r in rows]
