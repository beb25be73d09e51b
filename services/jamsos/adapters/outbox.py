"""Transactional outbox: write events with the change that caused them; the relay publishes them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from jamsos.adapters.locks import AdvisoryLock
from jamsos.conditions import Backoff, Conditions
from jamsos.faults import Fault
from jamsos.usecases.rows import OutboxEvent

NO_FAULT = Fault()


async def add(conn: asyncpg.Connection, events: Sequence[OutboxEvent]) -> None:
    """Insert events in the caller's transaction; an event_id already there is skipped."""
    if not events:
        return
    await conn.execute(
        """
        INSERT INTO outbox (event_id, topic, key, value)
        SELECT event_id, topic, key, value
        FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::bytea[])
            WITH ORDINALITY AS e(event_id, topic, key, value, ord)
        ORDER BY ord
        ON CONFLICT (event_id) DO NOTHING
        """,
        [e.event_id for e in events],
        [e.topic for e in events],
        [e.key for e in events],
        [e.value for e in events],
    )


async def relay_once(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, limit: int, fault: Fault = NO_FAULT
) -> int:
    """Publish up to `limit` unpublished rows in id order, then mark them; returns how many.

    Publishing happens before the marking commits, so a crash in between re-publishes the
    same events (same event_id) rather than losing them.
    """
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", AdvisoryLock.RELAY):
            return 0
        rows = await conn.fetch(
            "SELECT id, topic, key, value FROM outbox WHERE published_at IS NULL"
            " ORDER BY id LIMIT $1",
            limit,
        )
        if not rows:
            return 0
        fault.reach("relay.before-publish", "relay")
        sent = [await producer.send(r["topic"], r["value"], key=r["key"]) for r in rows]
        await asyncio.gather(*sent)
        fault.reach("relay.after-publish", "relay")
        await conn.execute(
            "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in rows],
        )
    fault.reach("relay.after-mark", "relay")
    return len(rows)


RELAY = "outbox relay"  # its part in the process's conditions (and /health)


def _trouble(error: BaseException) -> str:
    text = " ".join(str(error).split())
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if isinstance(error, KafkaError):
        return f"broker unreachable ({what})"
    if isinstance(error, OSError | asyncpg.PostgresError | asyncpg.InterfaceError):
        return f"database or broker unreachable ({what})"
    return f"failed ({what})"


async def relay_forever(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    limit: int,
    idle_seconds: float,
    conditions: Conditions,
    backoff: Backoff,
    fault: Fault,
) -> None:
    """Run the relay until cancelled. Any failure leaves the rows unpublished (the transaction
    rolled back); it is reported in `conditions` (logged once) and retried with backoff."""
    attempt = 0
    while True:
        try:
            published = await relay_once(pool, producer, limit, fault)
        except Exception as error:  # reported, retried: no row is marked that was not sent
            conditions.fail(RELAY, _trouble(error))
            await asyncio.sleep(backoff.delay(attempt))
            attempt += 1
            continue
        attempt = 0
        conditions.recover(RELAY)
        if published < limit:
            await asyncio.sleep(idle_seconds)


class Relay:
    """Owns the relay task for a service process."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        limit: int,
        idle: float,
        conditions: Conditions,
        backoff: Backoff,
        fault: Fault,
    ):
        self._pool, self._producer, self._limit, self._idle = pool, producer, limit, idle
        self._conditions, self._backoff, self._fault = conditions, backoff, fault
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the producer and the loop."""
        await self._producer.start()
        self._task = asyncio.create_task(
            relay_forever(
                self._pool,
                self._producer,
                self._limit,
                self._idle,
                self._conditions,
                self._backoff,
                self._fault,
            ),
            name="relay",
        )

    async def stop(self) -> None:
        """Cancel the loop and flush the producer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._producer.stop()


async def pending(conn: asyncpg.Connection) -> int:
    """How many outbox rows are not published yet (served by the partial index)."""
    count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return count
