"""Health checks: the pieces one service process's `/health` is made of, and the whole
system's health that `jamsos ops health` reports (CONTRACT.md, "Operations interface (v1)").

`ops health` finds the running service processes in the `service_processes` table: each
process with HTTP on records its host, port, services and pid there at start, refreshes a
heartbeat on its monitor timer and deletes its row on a clean stop (workers/monitor.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import socket
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from jamsos.adapters import processes
from jamsos.adapters.http import get_json
from jamsos.adapters.processes import ServiceProcess

CHECK_TIMEOUT = 3.0  # seconds one check may take before it counts as failed
# A process beats every 5 s (Settings.monitor_interval_seconds); silent this long, it is
# taken for dead (killed, or its host is gone) until FORGET_AFTER, when its row is dropped.
STALE_AFTER = dt.timedelta(seconds=30)
# What an unreachable broker, database or service raises (or a check that ran out of time).
UNREACHABLE = (
    OSError,
    TimeoutError,
    ValueError,
    KafkaError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    # A pooled connection whose backend the server ended while it was idle (a restart,
    # pg_terminate_backend, DROP DATABASE ... WITH (FORCE)): asyncpg reads the FATAL error and
    # the end of the socket one event-loop iteration apart, and a query in between is refused
    # with "cannot switch to state N; another operation (2) is in progress". Unhandled, it
    # ended the monitor's timer (no heartbeat, frozen gauges) and made /health answer 500.
    asyncpg.InternalClientError,
)

Check = dict[str, str]
NO_SECURITY: Mapping[str, Any] = MappingProxyType({})


def ok(detail: str) -> Check:
    """A passing check."""
    return {"status": "ok", "detail": detail}


def unhealthy(detail: str) -> Check:
    """A failing check."""
    return {"status": "unhealthy", "detail": detail}


def verdict(checks: dict[str, Check]) -> str:
    """`ok` when every check passed, else `unhealthy`."""
    return "ok" if all(c["status"] == "ok" for c in checks.values()) else "unhealthy"


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def timed(what: Callable[[], Awaitable[Check]]) -> Check:
    """Run one check with a deadline; an unreachable peer makes it fail, not raise."""
    try:
        return await asyncio.wait_for(what(), CHECK_TIMEOUT)
    except UNREACHABLE as error:
        return unhealthy(_describe(error))


async def broker_check(admin: AIOKafkaAdminClient) -> Check:
    """The broker answers a metadata request (aiokafka raises, or stalls past the deadline)."""
    metadata = await admin.describe_cluster()
    return ok(f"{len(metadata['brokers'])} broker(s)")


async def database_check(conn: asyncpg.Connection) -> Check:
    """The database answers a query."""
    await conn.fetchval("SELECT 1", timeout=CHECK_TIMEOUT)
    return ok("reachable")


def process_name(p: ServiceProcess) -> str:
    """The check name of one service process: its services, host and port."""
    return f"{'+'.join(p.services)}@{p.host}:{p.http_port}"


async def process_check(p: ServiceProcess) -> Check:
    """One service process: a recent heartbeat and a `/health` that says ok."""
    if p.silent > STALE_AFTER:
        return unhealthy(
            f"pid {p.pid}: no heartbeat for {int(p.silent.total_seconds())} s"
            " (stopped without a clean shutdown, or hung)"
        )
    # A process on this machine is probed on the loopback (its host name may not resolve).
    host = "127.0.0.1" if p.host == socket.gethostname() else p.host
    status, body = await get_json(f"http://{host}:{p.http_port}/health", CHECK_TIMEOUT)
    if status == 200 and isinstance(body, dict) and body.get("status") == "ok":
        return ok(f"pid {p.pid}, up since {p.started_at:%Y-%m-%d %H:%M:%S %Z}")
    failing = []
    if isinstance(body, dict) and isinstance(body.get("checks"), dict):
        failing = [
            f"{name}: {c.get('detail', '')}"
            for name, c in body["checks"].items()
            if isinstance(c, dict) and c.get("status") != "ok"
        ]
    return unhealthy(f"pid {p.pid}: HTTP {status}" + (f"; {'; '.join(failing)}" if failing else ""))


async def _broker(bootstrap: str, security: Mapping[str, Any]) -> Check:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="jamsos-ops-health", **security
    )
    try:
        await admin.start()
        return await broker_check(admin)
    finally:
        await admin.close()


async def system_health(
    bootstrap: str, database_url: str, security: Mapping[str, Any] = NO_SECURITY
) -> dict[str, object]:
    """Broker, database and every running service process (`jamsos ops health --json`);
    `security`: the Kafka client's SASL/TLS arguments (`adapters.kafka.client_security`)."""
    checks: dict[str, Check] = {}
    found: list[ServiceProcess] = []

    async def database() -> Check:
        conn = await asyncpg.connect(database_url, timeout=CHECK_TIMEOUT)
        try:
            check = await database_check(conn)
            found.extend(await processes.running(conn))
            return check
        finally:
            await conn.close()

    checks["broker"], checks["database"] = await asyncio.gather(
        timed(lambda: _broker(bootstrap, security)), timed(database)
    )
    results = await asyncio.gather(*(timed(functools.partial(process_check, p)) for p in found))
    for p, result in zip(found, results, strict=True):
        checks[process_name(p)] = result
    return {"status": verdict(checks), "checks": checks}
