"""The HTTP side of a service process: `/health` and `/metrics` (CONTRACT.md, "Operations
interface (v1)"), the lag and outbox gauges refreshed on a timer, and the process's row in
`service_processes` (which `jamsos ops health` reads to find it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from jamsos.adapters import outbox, processes
from jamsos.adapters.http import HttpServer
from jamsos.adapters.kafka import client_security
from jamsos.adapters.kafka_admin import consumer_lag
from jamsos.health import (
    CHECK_TIMEOUT,
    UNREACHABLE,
    Check,
    broker_check,
    database_check,
    ok,
    timed,
    unhealthy,
    verdict,
)
from jamsos.workers.runtime import Runtime

log = logging.getLogger(__name__)


class _Exposition:
    """prometheus-client's ASGI app as the endpoint of exactly `/metrics` (a Starlette Mount
    would redirect `/metrics` to `/metrics/`)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


class Monitor:
    """Serves a service process's health and metrics while the app runs."""

    def __init__(
        self,
        runtime: Runtime,
        broker: KafkaBroker,
        services: Sequence[str],
        server: Callable[[Starlette], HttpServer],
    ) -> None:
        self._runtime = runtime
        self._broker = broker
        self._services = list(services)
        self._id = uuid.uuid4()
        self._host = socket.gethostname()
        self._http = server(self.app())
        self._admin: AIOKafkaAdminClient | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The HTTP port served."""
        return self._http.port

    def app(self) -> Starlette:
        """`GET /health` and `GET /metrics`."""
        metrics = _Exposition(make_asgi_app(self._runtime.metrics.registry))
        return Starlette(
            routes=[
                Route("/health", self._health, methods=["GET"]),
                Route("/metrics", metrics, methods=["GET"]),
            ]
        )

    async def start(self) -> None:
        """Open the broker check's client, serve HTTP, record this process, start the timer."""
        settings = self._runtime.settings
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap,
            client_id="jamsos-health",
            **client_security(settings.kafka_security),
        )
        await self._admin.start()
        await self._http.start()
        async with self._runtime.pool.acquire() as conn:
            await processes.register(
                conn, self._id, self._host, self.port, self._services, os.getpid()
            )
        self._task = asyncio.create_task(self._refresh_forever(), name="monitor")
        log.info(
            "serving /health and /metrics on port %d (%s)", self.port, ", ".join(self._services)
        )

    async def stop(self) -> None:
        """Stop the timer and the server; forget this process's row."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.stop()
        with contextlib.suppress(*UNREACHABLE):
            async with self._runtime.pool.acquire(timeout=CHECK_TIMEOUT) as conn:
                await processes.unregister(conn, self._id)
        if self._admin is not None:
            await self._admin.close()

    # --- health -----------------------------------------------------------------------------

    async def checks(self) -> dict[str, Check]:
        """The database, the broker and the consumers, checked concurrently."""
        database, broker = await asyncio.gather(
            timed(self._check_database), timed(self._check_broker)
        )
        return {
            "database": database,
            "broker": broker,
            "consumers": self._check_consumers(),
            "processing": self._check_processing(),
        }

    async def _health(self, request: Request) -> JSONResponse:
        checks = await self.checks()
        status = verdict(checks)
        body: dict[str, Any] = {
            "status": status,
            "checks": checks,
            "services": self._services,
            "pid": os.getpid(),
        }
        return JSONResponse(body, status_code=200 if status == "ok" else 503)

    async def _check_database(self) -> Check:
        async with self._runtime.pool.acquire(timeout=CHECK_TIMEOUT) as conn:
            return await database_check(conn)

    async def _check_broker(self) -> Check:
        assert self._admin is not None
        return await broker_check(self._admin)

    def _check_consumers(self) -> Check:
        idle: list[str] = []
        names: list[str] = []
        for subscriber in self._broker.subscribers:
            name = str(getattr(subscriber, "group_id", None) or subscriber)
            names.append(name)
            tasks: list[asyncio.Task[Any]] = getattr(subscriber, "tasks", [])
            consumer = getattr(subscriber, "consumer", None)
            consuming = any(not t.done() for t in tasks)
            if not (subscriber.running and consumer is not None and consuming):
                idle.append(name)
        if idle or not names:
            return unhealthy("not consuming: " + (", ".join(idle) or "no consumers"))
        return ok(f"{len(names)} running")

    def _check_processing(self) -> Check:
        """What the consumers and the relay said keeps them from working (an outage they wait
        out, a batch that fails, a consumer stopped), from `runtime.conditions`."""
        troubles = self._runtime.conditions.troubles
        if troubles:
            return unhealthy("; ".join(f"{part}: {why}" for part, why in sorted(troubles.items())))
        return ok("no outage or failing batch")

    # --- gauges and heartbeat ---------------------------------------------------------------

    def groups(self) -> dict[str, list[str]]:
        """This process's consumer groups and the topics each reads."""
        groups: dict[str, list[str]] = {}
        for subscriber in self._broker.subscribers:
            group_id = getattr(subscriber, "group_id", None)
            if group_id:
                groups.setdefault(group_id, []).extend(getattr(subscriber, "topic_names", []))
        return groups

    async def refresh(self) -> None:
        """Refresh the lag and outbox gauges and this process's heartbeat (broker and database
        each on their own; a failure is logged and retried at the next tick)."""
        settings, conditions = self._runtime.settings, self._runtime.conditions
        assert settings.kafka_bootstrap is not None
        deadline = settings.monitor_interval_seconds + CHECK_TIMEOUT
        try:
            rows = await asyncio.wait_for(
                consumer_lag(
                    settings.kafka_bootstrap,
                    self.groups(),
                    security=client_security(settings.kafka_security),
                ),
                deadline,
            )
            self._runtime.metrics.lag((r.group, r.topic, r.partition, r.lag) for r in rows)
            conditions.recover("lag gauges")
        except UNREACHABLE as error:  # logged once per change, retried at the next tick
            conditions.fail("lag gauges", f"broker unreachable ({error})")
        try:
            async with self._runtime.pool.acquire(timeout=CHECK_TIMEOUT) as conn:
                self._runtime.metrics.outbox_pending.set(await outbox.pending(conn))
                self._runtime.metrics.outbox_failed.set(await outbox.failed(conn))
                if not await processes.heartbeat(conn, self._id):
                    await processes.register(
                        conn, self._id, self._host, self.port, self._services, os.getpid()
                    )
            conditions.recover("heartbeat")
        except UNREACHABLE as error:
            conditions.fail("heartbeat", f"database unreachable ({error})")

    async def _refresh_forever(self) -> None:
        interval = self._runtime.settings.monitor_interval_seconds
        while True:
            await self.refresh()
            await asyncio.sleep(interval)
