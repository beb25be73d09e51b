"""An outbox row the producer or broker refuses for good is marked failed, and the rows after
it keep flowing (real PostgreSQL and tansu); `outbox.retry` hands it back to the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid

import asyncpg
import pytest

from jamsos.adapters import outbox
from jamsos.adapters.kafka import dlq_message_bytes, make_producer
from jamsos.conditions import Backoff, Conditions
from jamsos.faults import Fault
from jamsos.settings import Settings
from jamsos.usecases.rows import OutboxEvent
from jamsos_schemas import topics
from tests.conftest import read_topic, wait_until

pytestmark = pytest.mark.integration


def row(n: int, size: int = 0) -> OutboxEvent:
    """An event on the DLQ topic (created by the test broker), `size` bytes of padding."""
    value = json.dumps({"n": n, "pad": "x" * size}).encode()
    return OutboxEvent(uuid.uuid4(), topics.DLQ, b"one-key", value)


async def test_a_row_refused_for_good_is_marked_failed_and_later_rows_flow(
    pool: asyncpg.Pool, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    too_large = dlq_message_bytes(settings.max_message_bytes) + 1  # over max_request_size
    producer = make_producer(settings, "test-refusals")
    await producer.start()
    conditions = Conditions()
    publisher = outbox.Publisher(pool, producer, 100, conditions, Backoff(0.01, 0.05), Fault())
    task = asyncio.create_task(publisher.run())
    try:
        async with pool.acquire() as conn:
            staged = await outbox.add(conn, [row(1), row(2, too_large), row(3)])
        with caplog.at_level(logging.ERROR, logger="jamsos.outbox"):
            await publisher.hand(staged)
            async with pool.acquire() as conn:
                staged += await outbox.add(conn, [row(4)])
            await publisher.hand(staged[3:])

            async def settled() -> bool:
                left = await pool.fetchval(
                    "SELECT count(*) FROM outbox WHERE published_at IS NULL AND failed_at IS NULL"
                )
                return left == 0

            await wait_until(settled, what="every row published or failed")
        failed = await pool.fetch("SELECT id, failure FROM outbox WHERE failed_at IS NOT NULL")
        assert [r["id"] for r in failed] == [staged[1].id]
        assert "MessageSizeTooLargeError" in failed[0]["failure"]
        assert any(str(staged[1].id) in r.getMessage() for r in caplog.records)
        async with pool.acquire() as conn:
            assert await outbox.pending(conn) == 0
            assert await outbox.failed(conn) == 1
        published = await read_topic(settings.kafka_bootstrap or "", topics.DLQ)
        assert [p["n"] for p in published] == [1, 3, 4]

        # the operator retries it: back to pending for the sweeper (still too large here)
        async with pool.acquire() as conn:
            assert await outbox.retry(conn, [staged[1].id]) == [staged[1].id]
            assert await outbox.pending(conn) == 1 and await outbox.failed(conn) == 0
        assert await outbox.relay_once(pool, producer, 100) == 1
        async with pool.acquire() as conn:
            assert await outbox.failed(conn) == 1
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await producer.stop()


def test_refused_is_only_what_the_broker_refuses_for_good() -> None:
    from aiokafka.errors import (
        KafkaConnectionError,
        KafkaTimeoutError,
        MessageSizeTooLargeError,
        NotEnoughReplicasError,
        NotLeaderForPartitionError,
        RecordTooLargeError,
        RequestTimedOutError,
        TopicAuthorizationFailedError,
        UnknownTopicOrPartitionError,
    )

    for error in (MessageSizeTooLargeError(), TopicAuthorizationFailedError()):
        assert outbox.refused(error), error
    for error in (
        KafkaConnectionError(),
        KafkaTimeoutError(),
        NotEnoughReplicasError(),
        NotLeaderForPartitionError(),
        RequestTimedOutError(),
        UnknownTopicOrPartitionError(),
        RecordTooLargeError(),  # aiokafka's own client-side batch error, not a broker answer
        OSError(),
    ):
        assert not outbox.refused(error), error
