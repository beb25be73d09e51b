"""Transactional outbox: events are written with the change that caused them. The process that
wrote them publishes them right after the commit (`Publisher`); the relay (`relay_forever`) is
the sweeper for rows nobody published (a crash between commit and publish, a redelivered batch
whose rows were already there, a publisher that could not reach the broker).

Neither holds a database transaction open while it waits for Kafka's acks: rows are read,
sent, acknowledged, and only then marked published in a statement of their own. A crash in
between re-publishes the same events (same event_id): at-least-once, readers de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from jamsos.adapters import db
from jamsos.adapters.arrays import text_array
from jamsos.adapters.batches import Batches, Sent, Staged, refused, what_failed
from jamsos.adapters.locks import AdvisoryLock
from jamsos.conditions import Backoff, Conditions
from jamsos.faults import Fault
from jamsos.usecases.rows import OutboxEvent

__all__ = ["Staged", "refused"]
NO_FAULT = Fault()
_BATCHED_BYTES = 64 * 1024  # rows larger than this go through `send` (size checked there)
_LOST = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
log = logging.getLogger("jamsos.outbox")


async def add(conn: asyncpg.Connection, events: Sequence[OutboxEvent]) -> list[Staged]:
    """Insert events in the caller's transaction; an event_id already there is skipped.
    Returns the rows inserted (those skipped are left to whoever wrote them, or the sweeper)."""
    if not events:
        return []
    rows = await conn.fetch(
        """
        INSERT INTO outbox (event_id, topic, key, value)
        SELECT event_id, topic, key, value
        FROM unnest($1::uuid[], $2::text::text[], $3::bytea[], $4::bytea[])
            WITH ORDINALITY AS e(event_id, topic, key, value, ord)
        ORDER BY ord
        ON CONFLICT (event_id) DO NOTHING
        RETURNING id, event_id
        """,
        [e.event_id for e in events],
        text_array([e.topic for e in events]),
        [e.key for e in events],
        [e.value for e in events],
    )
    by_id = {e.event_id: e for e in events}
    staged = [Staged(r["id"], *_what(by_id[r["event_id"]])) for r in rows]
    staged.sort(key=lambda s: s.id)
    return staged


def _what(e: OutboxEvent) -> tuple[str, bytes | None, bytes]:
    return (e.topic, e.key, e.value)


@dataclass(frozen=True)
class Refusal:
    """A row the broker refused for good, and its error."""

    row: Staged
    error: str


async def _send(
    producer: AIOKafkaProducer, rows: Sequence[Staged], fault: Fault, batched: bool = True
) -> list[Refusal]:
    """Send rows in order and wait for every ack. Returns the rows refused for good; raises
    the first retriable error once every ack is in (nothing is marked then, so all are sent
    again: at-least-once).

    Rows go as one record batch per partition (`send_batch`), the partition computed with the
    producer's default partitioner as `send` would (keyed rows; a row without a key, or larger
    than a batch, goes through `send`). A batch refused for good is sent again row by row, so
    only the rows refused on their own are marked failed."""
    fault.reach("relay.before-publish", "relay")
    sent: Sent = []
    batches = Batches(producer, sent)
    for r in rows:
        if r.key is None or not batched:
            await batches.single(r, None)
        else:
            partition = await batches.partition(r.topic, r.key)
            if len(r.value) + len(r.key) > _BATCHED_BYTES:
                await batches.single(r, partition)
            else:
                await batches.add(r, partition)
    await batches.flush()
    refusals: list[Refusal] = []
    retry: BaseException | None = None
    for held, future in sent:
        error: BaseException | None = None
        if isinstance(future, BaseException):
            error = future
        else:
            try:
                await future
            except KafkaError as failed:
                error = failed
        if error is None:
            continue
        if refused(error) and len(held) > 1:
            try:
                refusals += await _send(producer, held, NO_FAULT, batched=False)  # which ones?
            except KafkaError as failed:
                retry = retry or failed
        elif refused(error):
            refusals.append(Refusal(held[0], what_failed(error)))
        elif retry is None:
            retry = error
    if retry is not None:
        raise retry
    fault.reach("relay.after-publish", "relay")
    return refusals


async def _fail(conn: asyncpg.Connection | asyncpg.Pool, refusals: Sequence[Refusal]) -> None:
    """Mark rows refused for good (an ERROR line each); they are no longer pending."""
    if not refusals:
        return
    for f in refusals:
        log.error(
            "outbox row %d (topic %s) refused for good by the broker, marked failed: %s"
            " (retry it with `jamsos ops outbox retry` after fixing the cause)",
            f.row.id,
            f.row.topic,
            f.error,
        )
    await conn.execute(
        "UPDATE outbox o SET failed_at = now(), failure = f.failure"
        " FROM unnest($1::bigint[], $2::text[]) AS f(id, failure)"
        " WHERE o.id = f.id AND o.published_at IS NULL",
        [f.row.id for f in refusals],
        [f.error for f in refusals],
    )


async def _settle(
    conn: asyncpg.Connection | asyncpg.Pool, rows: Sequence[Staged], refusals: Sequence[Refusal]
) -> None:
    """Mark the sent rows published and the refused ones failed."""
    out = {f.row.id for f in refusals}
    await _fail(conn, refusals)
    await _mark(conn, [r.id for r in rows if r.id not in out])


async def _mark(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
        " AND published_at IS NULL",
        list(ids),
    )


# A bigint bound that admits every row, so that the statement is one plan with the id bound as
# its index condition.
EVERY_ID = 2**63 - 1
SWEEP = (
    "SELECT id, topic, key, value FROM outbox WHERE published_at IS NULL"
    " AND failed_at IS NULL AND id <= $3 AND created_at <= now() - make_interval(secs => $2)"
    " ORDER BY id LIMIT $1"
)


async def relay_once(
    pool: asyncpg.Pool,
    producer: AIOKafkaProducer,
    limit: int,
    fault: Fault = NO_FAULT,
    older_than: float = 0.0,
    up_to: int = EVERY_ID,
) -> int:
    """Publish up to `limit` unpublished rows at least `older_than` seconds old and with an id
    of at most `up_to` (`Horizon`), in id order, then mark them; returns how many. One sweeper
    at a time across processes (a session advisory lock, not a transaction: nothing stays open
    while the acks are awaited)."""
    async with pool.acquire() as conn:
        db.changes_session(conn)  # the lock is the session's: reset it when it goes back
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", AdvisoryLock.RELAY):
            return 0
        try:
            found = await conn.fetch(SWEEP, limit, older_than, up_to)
            rows = [Staged(r["id"], r["topic"], r["key"], r["value"]) for r in found]
            if not rows:
                return 0
            await _settle(conn, rows, await _send(producer, rows, fault))
        finally:
            # a broken connection loses the lock with it (and the pool's reset unlocks all:
            # changes_session above)
            with contextlib.suppress(*_LOST):
                await conn.execute("SELECT pg_advisory_unlock($1)", AdvisoryLock.RELAY)
    fault.reach("relay.after-mark", "relay")
    return len(rows)


class Horizon:
    """The highest outbox id that already existed `grace` seconds ago, from samples of
    `max(id)` the sweeper takes on each pass.

    Ids come from a sequence, so a row whose id is at most that one had its id before the
    sample, i.e. at least `grace` ago: such rows are the only ones the sweeper needs to look
    at, and its scan of the unpublished index stops there instead of walking the young rows
    that the publishers are about to mark (40,000 young rows: 13.2 ms a pass against 0.14 ms,
    README "The outbox sweeper stops at its horizon"). A row above the horizon is not lost: a
    sample taken after its commit covers it `grace` later, so it is swept within about
    `grace` + two passes of its commit (a long transaction's row included).
    Before the first sample is old enough there is no horizon and every id is admitted (the
    pass at start, which finds what a crash left behind)."""

    def __init__(self, grace: float):
        self._grace = grace
        self._samples: deque[tuple[float, int]] = deque()
        self._known = EVERY_ID  # admits every id until a sample is `grace` old
        self._highest = 0

    def sample(self, at: float, highest: int | None) -> None:
        """`max(id)` read at monotonic time `at` (None: the outbox is empty). Samples never
        go down, so a purge of the newest rows cannot move the horizon back."""
        self._highest = max(self._highest, highest or 0)
        self._samples.append((at, self._highest))

    def up_to(self, now: float) -> int:
        """The horizon at monotonic time `now` (EVERY_ID while none is known)."""
        while self._samples and self._samples[0][0] <= now - self._grace:
            self._known = self._samples.popleft()[1]
        return self._known


async def _highest_id(pool: asyncpg.Pool) -> int | None:
    highest: int | None = await pool.fetchval("SELECT max(id) FROM outbox")
    return highest


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
                await _settle(self._pool, rows, await _send(self._producer, rows, self._fault))
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
    the hot path: the publisher has normally marked a row long before it is `grace` old, and
    the scan stops at the `Horizon`."""
    attempt = 0
    horizon = Horizon(grace)
    clock = asyncio.get_running_loop().time
    while True:
        try:
            highest = await _highest_id(pool)
            horizon.sample(clock(), highest)  # read before this time: at least as old
            up_to = horizon.up_to(clock())
            published = await relay_once(pool, producer, limit, fault, grace, up_to)
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


async def pending(conn: asyncpg.Connection) -> int:
    """How many outbox rows are not published yet (served by the partial index)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND failed_at IS NULL"
    )
    return count


async def failed(conn: asyncpg.Connection) -> int:
    """How many outbox rows the broker refused for good (marked failed, not retried)."""
    count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL")
    return count


async def failures(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The failed rows, oldest first (served by the outbox_failed index)."""
    return list(
        await conn.fetch(
            "SELECT id, event_id, topic, key, failed_at, failure FROM outbox"
            " WHERE failed_at IS NOT NULL ORDER BY id"
        )
    )


async def retry(conn: asyncpg.Connection, ids: Sequence[int] | None) -> list[int]:
    """Clear the failure of `ids` (all failed rows when None): the sweeper publishes them.
    Returns the ids cleared."""
    rows = await conn.fetch(
        "UPDATE outbox SET failed_at = NULL, failure = NULL WHERE failed_at IS NOT NULL"
        " AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) RETURNING id",
        None if ids is None else list(ids),
    )
    return sorted(r["id"] for r in rows)
