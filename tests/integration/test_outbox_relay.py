"""The outbox relay on real PostgreSQL and tansu: publishes in order, marks, re-sends on replay."""

from __future__ import annotations

import contextlib
import uuid

import asyncpg
import pytest

from jamsos.adapters import outbox, relay
from jamsos.adapters.kafka import make_producer
from jamsos.adapters.outbox import OutboxEvent
from jamsos.settings import Settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics
from jamsos_schemas.dlq import DeadLetterV1
from tests.conftest import read_topic, wait_until

pytestmark = pytest.mark.integration


def event(n: int) -> OutboxEvent:
    """A dead-letter event (it carries its event_id), on the DLQ topic."""
    eid = uuid.uuid4()
    model = DeadLetterV1(
        event_id=eid,
        source_topic="t",
        partition=0,
        offset=n,
        key=None,
        value_b64="",
        error=f"e-{n}",
        failed_at=jakarta_now(),
    )
    return OutboxEvent.of(topics.DLQ, "one-partition", model, eid)


async def test_outbox_add_with_known_event_id_keeps_one_row(pool: asyncpg.Pool) -> None:
    e = event(1)
    async with pool.acquire() as conn:
        await outbox.add(conn, [e, e])
        await outbox.add(conn, [e])
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 1


async def test_outbox_rows_of_a_rolled_back_transaction_are_never_published(
    pool: asyncpg.Pool,
) -> None:
    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add(conn, [event(1)])
            raise Abort
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_relay_publishes_in_id_order_and_marks_rows(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    events = [event(n) for n in range(25)]
    async with pool.acquire() as conn:
        await outbox.add(conn, events)
    producer = make_producer(settings, "test-relay")
    await producer.start()
    try:
        assert await relay.relay_once(pool, producer, 10) == 10
        assert await relay.relay_once(pool, producer, 100) == 15
        assert await relay.relay_once(pool, producer, 100) == 0
    finally:
        await producer.stop()
    published = await read_topic(settings.kafka_bootstrap or "", topics.DLQ)
    assert [p["offset"] for p in published] == list(range(25))
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_relay_after_lost_marking_resends_the_same_events(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    async with pool.acquire() as conn:
        await outbox.add(conn, [event(1), event(2)])
    producer = make_producer(settings, "test-relay")
    await producer.start()
    try:
        await relay.relay_once(pool, producer, 100)
        await pool.execute("UPDATE outbox SET published_at = NULL")  # the commit was lost
        await relay.relay_once(pool, producer, 100)
    finally:
        await producer.stop()
    published = await read_topic(settings.kafka_bootstrap or "", topics.DLQ)
    assert len(published) == 4
    stored = {str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM outbox")}
    assert {p["event_id"] for p in published} == stored and len(stored) == 2


async def test_relay_batches_land_on_the_partitions_and_in_the_order_send_chooses(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    """Rows go out as one batch per partition; each lands where `producer.send` puts the same
    key, and each key's rows keep their order."""
    from aiokafka import AIOKafkaConsumer

    topic = topics.SUBMITTED  # several partitions on the test broker
    keys = [f"33190112038500{n:02d}".encode() for n in range(40)]
    rows = [OutboxEvent(uuid.uuid4(), topic, keys[n % 40], b'{"n": %d}' % n) for n in range(400)]
    async with pool.acquire() as conn:
        await outbox.add(conn, rows)
    producer = make_producer(settings, "test-relay")
    await producer.start()
    try:
        assert len(await producer.partitions_for(topic)) > 1
        assert await relay.relay_once(pool, producer, 1000) == 400
        by_send = {k: (await (await producer.send(topic, b"probe", key=k))).partition for k in keys}
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        seen: list[tuple[bytes, int, bytes]] = []
        while len(seen) < 440:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                seen += [(r.key, r.partition, r.value) for r in records]
    finally:
        await consumer.stop()
    for key, partition, _ in seen:
        assert partition == by_send[key], key
    for k in keys:
        values = [v for key, _, v in seen if key == k and v != b"probe"]
        assert values == [b'{"n": %d}' % n for n in range(400) if keys[n % 40] == k]


async def test_the_sweeper_publishes_rows_nobody_handed_over_a_late_commit_included(
    pool: asyncpg.Pool, settings: Settings
) -> None:
    """`sweep_forever` as a service runs it, with a short grace: rows committed while it runs
    and never handed to a publisher are all published, the last of them by a transaction that
    took its id before the others and committed after they were swept (no id cursor skips
    it)."""
    import asyncio

    from jamsos.conditions import Backoff, Conditions
    from jamsos.faults import Fault

    async def published(count: int) -> None:
        async def marked() -> bool:
            query = "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
            return bool(await pool.fetchval(query) >= count)

        await wait_until(marked, 30, f"the sweeper to publish {count} rows")

    producer = make_producer(settings, "test-relay")
    await producer.start()
    sweeper = asyncio.create_task(
        relay.sweep_forever(
            pool,
            producer,
            100,
            interval=0.05,
            grace=0.3,
            conditions=Conditions(),
            backoff=Backoff(0.05, 0.2),
            fault=Fault(),
            wake=asyncio.Event(),
        )
    )
    try:
        async with pool.acquire() as conn:
            await outbox.add(conn, [event(0)])
        await published(1)  # the sweeper is past its first passes
        late = await pool.acquire()
        try:
            transaction = late.transaction()
            await transaction.start()
            await outbox.add(late, [event(1)])  # takes its id now, commits last
            async with pool.acquire() as conn:
                await outbox.add(conn, [event(n) for n in range(2, 7)])  # higher ids
            await published(6)  # these are swept while it stays open
            await transaction.commit()
        finally:
            await pool.release(late)
        await published(7)
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await producer.stop()
    values = await read_topic(settings.kafka_bootstrap or "", topics.DLQ)
    assert sorted({p["offset"] for p in values}) == list(range(7))
