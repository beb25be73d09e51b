"""Who publishes the outbox: the process that wrote the rows, right after the commit
(`Publisher`), and the sweeper (`sweep_forever`, `relay_once`) for rows nobody published (a
crash between commit and publish, a redelivered batch whose rows were already there, a
publisher that could not reach the broker); `Relay` owns both in a service process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from jamsos.adapters import db
from jamsos.adapters.batches import Staged
from jamsos.adapters.locks import AdvisoryLock
from jamsos.adapters.outbox import LOST, NO_FAULT, send, settle
from jamsos.conditions import Backoff, Conditions
from jamsos.faults import Fault

SWEEP = (
    "SELECT id, topic, key, value FROM outbox WHERE published_at IS NULL"
    " AND failed_at IS NULL AND created_at <= now() - make_interval(secs => $2)"
    " ORDER BY id LIMIT $1"
)


async def relay_once(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    limit: int,
    fault: Fault = NO_FAULT,
    older_than: float = 0.0,
) -> int:
    """Publish up to `limit` unpublished rows at least `older_than` seconds old, in id order,
    then mark them; returns how many. One sweeper at a time across processes (a session
    advisory lock, not a transaction: nothing stays open while the acks are awaited)."""
    async with pool.acquire() as conn:
        db.changes_session(conn)  # the lock is the session's: reset it when it goes back
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", AdvisoryLock.RELAY):
            return 0
        try:
            found = await conn.fetch(SWEEP, limit, older_than)
            rows = [Staged(r["id"], r["topic"], r["key"], r["value"]) for r in found]
            if not rows:
                return 0
            await settle(conn, rows, await send(producer, rows, fault))
        finally:
            # a broken connection loses the lock with it (and the pool's reset unlocks all:
            # changes_session above)
            with contextlib.suppress(*LOST):
                await conn.execute("SELECT pg_advisory_unlock($1)", AdvisoryLock.RELAY)
    fault.reach("relay.after-mark", "relay")
    return len(rows)


RELAY = "outbox relay"  # the sweeper's part in the process's conditions (and /health)
PUBLISHER = "outbox publisher"  # the publisher's


def _trouble(error: BaseException) -> str:
    text = " ".join(str(error).split())
    what = f"{type(error).__name__}: {text}" if text else type(error).__name__
    if isinstance(error, KafkaError):
        return f"broker unreachable ({what})"
    if isinstance(error, OSError | asyncpg.PostgresError | asyncpg.InterfaceError):
        return f"database or broker unreachable ({what})"
    return f"failed ({what})"


class Publisher:
    """Publishes, in commit order, the rows this process's transactions inserted, right after
    each commit (the unit of work hands them over), and marks them published.

    Nothing polls: the loop sleeps until rows are handed over. A failure (broker or database
    unreachable) is reported in `conditions` and retried with backoff, the same rows first, so
    per-key order within the process holds; the sweeper may publish them meanwhile (a
    duplicate with the same event_id, which readers drop). A row refused for good (`refused`)
    is marked failed and leaves the queue; later rows, of its key too, go on. Handing over
    waits while more than `max_pending` rows are queued, so a slow broker slows the consumers
    instead of growing memory.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        limit: int,
        conditions: Conditions,
        backoff: Backoff,
        fault: Fault,
        max_pending: int = 20_000,
    ):
        self._pool, self._producer, self._limit = pool, producer, limit
        self._conditions, self._backoff, self._fault = conditions, backoff, fault
        self._max = max_pending
        self._queue: list[Staged] = []
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.failed = asyncio.Event()  # set on a failure: the sweeper looks at once

    async def hand(self, rows: Sequence[Staged]) -> None:
        """Queue rows a transaction just committed (waits while too many are queued)."""
        if not rows:
            return
        self._queue.extend(rows)
        self._wake.set()
        while len(self._queue) > self._max:
            self._room.clear()
            await self._room.wait()

    async def run(self) -> None:
        """Publish what is handed over until cancelled."""
        attempt = 0
        while True:
            await self._wake.wait()
            rows = self._queue[: self._limit]
            try:
                await settle(self._pool, rows, await send(self._producer, rows, self._fault))
            except Exception as error:  # reported, retried: a row is marked only once sent
                self._conditions.fail(PUBLISHER, _trouble(error))
                self.failed.set()
                await asyncio.sleep(self._backoff.delay(attempt))
                attempt += 1
                continue
            self._fault.reach("relay.after-mark", "relay")
            attempt = 0
            self._conditions.recover(PUBLISHER)
            del self._queue[: len(rows)]
            if not self._queue:
                self._wake.clear()
            if len(self._queue) <= self._max:
                self._room.set()


async def sweep_forever(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    limit: int,
    interval: float,
    grace: float,
    conditions: Conditions,
    backoff: Backoff,
    fault: Fault,
    wake: asyncio.Event,
) -> None:
    """The sweeper, until cancelled: publishes rows older than `grace` seconds that nobody
    marked, once at start, then every `interval` seconds or at once when `wake` is set. Off
    the hot path: the publisher has normally marked a row long before it is `grace` old."""
    attempt = 0
    while True:
        try:
            published = await relay_once(pool, producer, limit, fault, grace)
        except Exception as error:  # reported, retried: no row is marked that was not sent
            conditions.fail(RELAY, _trouble(error))
            await asyncio.sleep(backoff.delay(attempt))
            attempt += 1
            continue
        attempt = 0
        conditions.recover(RELAY)
        if published < limit:
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)


class Relay:
    """Owns the publisher and the sweeper of a service process (one producer for both)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        limit: int,
        interval: float,
        grace: float,
        conditions: Conditions,
        backoff: Backoff,
        fault: Fault,
    ):
        self._pool, self._producer, self._limit = pool, producer, limit
        self._interval, self._grace = interval, grace
        self._conditions, self._backoff, self._fault = conditions, backoff, fault
        self.publisher = Publisher(pool, producer, limit, conditions, backoff, fault)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start the producer, the publisher and the sweeper."""
        await self._producer.start()
        sweeper = sweep_forever(
            self._pool,
            self._producer,
            self._limit,
            self._interval,
            self._grace,
            self._conditions,
            self._backoff,
            self._fault,
            self.publisher.failed,
        )
        self._tasks = [
            asyncio.create_task(self.publisher.run(), name="outbox-publisher"),
            asyncio.create_task(sweeper, name="outbox-sweeper"),
        ]

    async def stop(self) -> None:
        """Cancel both loops and flush the producer (what is left unmarked is swept later)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._producer.stop()
