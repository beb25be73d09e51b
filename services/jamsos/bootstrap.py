"""Composition root: Settings → pool, broker, routers and relay; one FastStream app per service."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.errors import KafkaError
from faststream import FastStream
from faststream.kafka import KafkaBroker, KafkaRouter

from jamsos.adapters import db
from jamsos.adapters.embedded import (
    claim_state,
    embedded_broker,
    embedded_database,
    record_endpoints,
)
from jamsos.adapters.http import HttpServer, bind
from jamsos.adapters.kafka import (
    client_security,
    create_topics,
    make_broker,
    make_producer,
    topic_configs,
    wait_for_broker,
)
from jamsos.adapters.relay import Relay
from jamsos.adapters.signatures import check_public_keys
from jamsos.faults import Fault
from jamsos.settings import Settings
from jamsos.workers import billing, registration, verification
from jamsos.workers.monitor import Monitor
from jamsos.workers.runtime import OUTAGE, Runtime, describe
from jamsos_schemas import topics

STARTUP = "startup"  # its part in the process's conditions

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


# /health and /metrics listen on every interface: Prometheus and compose probe from outside.
HTTP_HOST = "0.0.0.0"


def runtime(settings: Settings) -> Runtime:
    """A service process's runtime (its fault point, if a crash test set one)."""
    return Runtime(settings, fault=Fault(settings.fault))


async def wait_for_broker_forever(runtime: Runtime) -> None:
    """Wait until the broker answers, however long: reported once, retried with backoff."""
    bootstrap = runtime.settings.kafka_bootstrap
    assert bootstrap is not None
    attempt = 0
    while True:
        try:
            await wait_for_broker(
                bootstrap, timeout=5.0, security=client_security(runtime.settings.kafka_security)
            )
        except (KafkaError, OSError) as error:
            runtime.conditions.fail(
                STARTUP, f"broker unreachable at {bootstrap} ({describe(error)})"
            )
            await asyncio.sleep(runtime.backoff.delay(attempt))
            attempt += 1
            continue
        runtime.conditions.recover(STARTUP)
        return


def build_app(
    settings: Settings,
    services: Sequence[str],
    runtime: Runtime | None = None,
    *,
    http_port: int | None = None,
) -> tuple[FastStream, KafkaBroker]:
    """The FastStream app running `services`, with the pool and the outbox relay in its hooks;
    with `http_port` (0: any free port) also /health and /metrics (see workers/monitor.py)."""
    runtime = runtime or Runtime(settings, fault=Fault(settings.fault))  # as runtime() does
    client_id = "jamsos-" + "-".join(services)
    broker = make_broker(settings, client_id)
    for name in services:
        broker.include_router(SERVICES[name](runtime))
    relays: list[Relay] = []
    monitors: list[Monitor] = []

    async def open_resources() -> None:
        for agency in settings.policy.agencies:  # a malformed public key stops the start
            check_public_keys(agency.code, agency.public_keys)
        if http_port is not None:  # first, so that a taken port fails before anything starts
            sock = bind(HTTP_HOST, http_port)
            monitors.append(Monitor(runtime, broker, services, lambda a: HttpServer(a, sock)))
        if settings.database_url is None:
            raise RuntimeError("JAMSOS_DATABASE_URL is not set (jamsos up starts an embedded one)")
        runtime.open(await _open_pool(runtime, settings.database_url))
        relay = Relay(
            runtime.pool,
            make_producer(settings, client_id + "-relay"),
            settings.relay_batch_size,
            settings.relay_idle_seconds,
            settings.relay_grace_seconds,
            runtime.conditions,
            runtime.backoff,
            runtime.fault,
        )
        # batches decided before the relay starts queue their rows until it does
        runtime.publish = relay.publisher.hand
        relays.append(relay)

    async def start_relay() -> None:
        for relay in relays:
            await relay.start()

    async def start_monitor() -> None:
        for monitor in monitors:
            await monitor.start()
            runtime.http_port = monitor.port

    async def stop_monitor() -> None:
        for monitor in monitors:
            await monitor.stop()

    async def stop_relay() -> None:
        for relay in relays:
            await relay.stop()

    async def close_resources() -> None:
        await runtime.close()

    app = FastStream(
        broker,
        on_startup=[open_resources],
        after_startup=[start_relay, start_monitor],
        on_shutdown=[stop_monitor, stop_relay],
        after_shutdown=[close_resources],
    )
    return app, broker


async def _open_pool(runtime: Runtime, dsn: str) -> asyncpg.Pool:
    """The migrated database's pool. A database that cannot be reached is waited for (logged
    once, retried with backoff); a refused login or an unknown database is raised (the CLI
    says it in one line and exits)."""
    attempt = 0
    while True:
        try:
            pool = await db.create_pool(dsn)
            try:
                async with pool.acquire() as conn:
                    # Services migrate on start (under the migration lock, so several processes
                    # may start together): `jamsos run` on a new database needs no other step.
                    await db.migrate(conn)
                    await db.sync_agencies(conn, runtime.settings.policy.agencies)
            except BaseException:
                await pool.close()
                raise
        except OUTAGE as error:
            runtime.conditions.fail(STARTUP, f"database unreachable ({describe(error)})")
            await asyncio.sleep(runtime.backoff.delay(attempt))
            attempt += 1
            continue
        runtime.conditions.recover(STARTUP)
        return pool


def freeze_startup_heap() -> None:
    """Once a process's services run: what start-up built (modules, pydantic schemas, the app)
    lives as long as the process, so the cyclic garbage collector stops scanning it.

    Every few hundred allocations of a batch (the JSON dicts, rows and events of 500
    submissions) the collector ran, and its older generations walked the whole start-up
    heap each time: ~20% of the use cases' CPU (register 57 -> 44-48 us per message, verify
    82-85 -> 69-75; README, Pipeline throughput). Garbage made later is still collected."""
    gc.collect()
    gc.freeze()


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


def consumer_groups(settings: Settings) -> dict[str, list[str]]:
    """Every consumer group of the services (`<prefix>.<group>`) and the topics it reads,
    taken from the subscribers themselves (for `jamsos ops lag` and the lag gauges)."""
    if settings.kafka_bootstrap is None:  # the broker is only described here, never contacted
        settings = replace(settings, kafka_bootstrap="localhost:9092")
    _, broker = build_app(settings, list(SERVICES))
    groups: dict[str, list[str]] = {}
    for subscriber in broker.subscribers:
        group_id = getattr(subscriber, "group_id", None)
        if group_id:
            groups.setdefault(group_id, []).extend(getattr(subscriber, "topic_names", []))
    return groups


def docs_app(settings: Settings) -> FastStream:
    """An app with every service's router, used only to generate the AsyncAPI document."""
    app, _ = build_app(settings, list(SERVICES))
    return app


@contextlib.contextmanager
def infrastructure(settings: Settings, *, database: str | None = None) -> Iterator[Settings]:
    """Settings with a broker and database: the configured ones, else embedded ones started for
    the block (tansu in memory; PostgreSQL with data under the state directory)."""
    with contextlib.ExitStack() as stack:
        if settings.kafka_bootstrap is None:
            settings = replace(
                settings, kafka_bootstrap=stack.enter_context(embedded_broker(settings.state_dir))
            )
        if settings.database_url is None:
            settings = replace(
                settings,
                database_url=stack.enter_context(embedded_database(settings.state_dir)),
            )
        if database is not None:
            assert settings.database_url is not None
            settings = replace(
                settings, database_url=with_database(settings.database_url, database)
            )
        yield settings


@contextlib.contextmanager
def session(settings: Settings, by: str, *, database: str | None = None) -> Iterator[Settings]:
    """`infrastructure` for `jamsos up`/`demo`: one per state directory (StateInUse otherwise),
    its endpoints recorded there so that every other command finds them."""
    with claim_state(settings.state_dir):
        # values another (now gone) process recorded are not this session's configuration
        settings = replace(
            settings,
            kafka_bootstrap=None
            if "JAMSOS_KAFKA_BOOTSTRAP" in settings.from_record
            else settings.kafka_bootstrap,
            database_url=None
            if "JAMSOS_DATABASE_URL" in settings.from_record
            else settings.database_url,
            from_record=(),
        )
        with infrastructure(settings, database=database) as ready:
            assert ready.kafka_bootstrap is not None and ready.database_url is not None
            record_endpoints(
                settings.state_dir,
                by,
                ready.kafka_bootstrap,
                ready.database_url,
                database_embedded=settings.database_url is None,
            )
            yield ready


def with_database(dsn: str, name: str) -> str:
    """The same server's DSN for database `name`."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


async def prepare(settings: Settings, *, fresh_database: bool = False) -> None:
    """Make the database (migrated, agencies synced) and the topics ready."""
    assert settings.database_url is not None and settings.kafka_bootstrap is not None
    name = urlsplit(settings.database_url).path.lstrip("/")
    if fresh_database:
        await db.recreate_database(with_database(settings.database_url, "postgres"), name)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await db.migrate(conn)
        await db.sync_agencies(conn, settings.policy.agencies)
    finally:
        await conn.close()
    security = client_security(settings.kafka_security)
    await wait_for_broker(settings.kafka_bootstrap, security=security)
    await create_topics(
        settings.kafka_bootstrap,
        topics.ALL_TOPICS,
        settings.partitions,
        settings.replication_factor,
        security=security,
        configs=topic_configs(settings),
    )
