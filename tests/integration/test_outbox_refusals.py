"""An outbox row the producer or broker refuses for good is marked failed, and the rows after
it keep flowing (real PostgreSQL and tansu); `outbox.retry` hands it back to the sweeper."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import replace

import asyncpg
import pytest

from jamsos.adapters import outbox, relay
from jamsos.adapters.kafka import dlq_message_bytes, make_producer
from jamsos.conditions import Backoff, Conditions
from jamsos.faults import Fault
from jamsos.settings import Settings
from jamsos.usecases.rows import OutboxEvent
from jamsos_schemas import topics
from tests.conftest import read_topic, wait_until
from tests.integration.billing_support import cli
from tests.integration.roles_support import role_urls

pytestmark = pytest.mark.integration
__all__ = ["role_urls"]  # the fixture


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
    publisher = relay.Publisher(pool, producer, 100, conditions, Backoff(0.01, 0.05), Fault())
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
        assert await relay.relay_once(pool, producer, 100) == 1
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
        RecordTooLargeError(),  # aiokafka raises it on the consumer side only
        OSError(),
    ):
        assert not outbox.refused(error), error


async def test_ops_outbox_list_and_retry_as_the_operator_are_audited(
    pool: asyncpg.Pool, settings: Settings, role_urls: dict[str, str]
) -> None:
    async with pool.acquire() as conn:
        staged = await outbox.add(conn, [row(1), row(2)])
    await pool.execute(
        "UPDATE outbox SET failed_at = now(), failure = 'TopicAuthorizationFailedError'"
        " WHERE id = $1",
        staged[0].id,
    )
    operator = replace(settings, database_url=role_urls["operator"], actor="budi")
    listed = await cli(operator, "ops", "outbox", "list", "--json")
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert [(d["id"], d["topic"], d["key"]) for d in document] == [
        (staged[0].id, topics.DLQ, "one-key")
    ]
    assert document[0]["failure"] == "TopicAuthorizationFailedError"
    nothing = await cli(operator, "ops", "outbox", "retry", str(staged[1].id))
    assert nothing.exit_code == 1  # not failed: nothing to retry, nothing audited
    retried = await cli(operator, "ops", "outbox", "retry", str(staged[0].id))
    assert retried.exit_code == 0, retried.output
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL") == 0
    audited = await pool.fetch("SELECT actor, action, subject FROM audit_log")
    assert [tuple(r) for r in audited] == [("budi", "outbox.retry", str(staged[0].id))]
