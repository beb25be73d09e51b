"""Composition root: Settings → pool, broker, routers and relay; one FastStream app per service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaRouter

from jamsos.adapters import db
from jamsos.adapters.kafka import make_broker, make_producer
from jamsos.adapters.outbox import Relay
from jamsos.settings import Settings
from jamsos.workers import billing, registration, verification
from jamsos.workers.runtime import Runtime

SERVICES: dict[str, Callable[[Runtime], KafkaRouter]] = {
    "registration": registration.router,
    "verification": verification.router,
    "billing": billing.router,
}


def service_names(name: str) -> list[str]:
    """The services that `jamsos run NAME` runs (`all` is every one in one process)."""
    if name == "all":
        return list(SERVICES)
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; choose from {', '.join([*SERVICES, 'all'])}")
    return [name]


def build_app(
    settings: Settings, services: Sequence[str], runtime: Runtime | None = None
) -> tuple[FastStream, KafkaBroker]:
    """The FastStream app running `services`, with the pool and the outbox relay in its hooks."""
    runtime = runtime or Runtime(settings)
    client_id = "jamsos-" + "-".join(services)
    broker = make_broker(settings, client_id)
    for name in services:
        broker.include_router(SERVICES[name](runtime))
    relays: list[Relay] = []

    async def open_resources() -> None:
        if settings.database_url is None:
            raise RuntimeError("JAMSOS_DATABASE_URL is not set (jamsos up starts an embedded one)")
        pool = await db.create_pool(settings.database_url)
        async with pool.acquire() as conn:
            await db.sync_agencies(conn, settings.policy.agencies)
        runtime.open(pool)

    async def start_relay() -> None:
        relay = Relay(
            runtime.pool,
            make_producer(settings, client_id + "-relay"),
            settings.relay_batch_size,
            settings.relay_idle_seconds,
        )
        await relay.start()
        relays.append(relay)

    async def stop_relay() -> None:
        for relay in relays:
            await relay.stop()

    async def close_resources() -> None:
        await runtime.pool.close()

    app = FastStream(
        broker,
        on_startup=[open_resources],
        after_startup=[start_relay],
        on_shutdown=[stop_relay],
        after_shutdown=[close_resources],
    )
    return app, broker


async def wait_assigned(broker: KafkaBroker, timeout: float = 60.0) -> None:
    """Wait until every subscriber of `broker` has partitions assigned (group join done)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        consumers = [getattr(s, "consumer", None) for s in broker.subscribers]
        if consumers and all(c is not None and c.assignment() for c in consumers):
            return
        if loop.time() > deadline:
            raise TimeoutError("consumers were not assigned partitions in time")
        await asyncio.sleep(0.05)


def docs_app(settings: Settings) -> FastStream:
    """An app with every service's router, used only to generate the AsyncAPI document."""
    app, _ = build_app(settings, list(SERVICES))
    return app
