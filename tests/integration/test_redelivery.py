"""A failed batch is redelivered whole on every partition it came from, even when the library's
`nack()` seeks back one partition only (the worker seeks every partition itself)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from faststream.kafka.message import KafkaAckableMessage
from faststream.message import StreamMessage

from jamsos.settings import Settings
from jamsos.usecases.billing import LEDGER
from jamsos.usecases.messages import Message
from jamsos.workers import billing
from jamsos_schemas import topics
from tests.conftest import markers_dead_lettered, publish_markers, running, wait_until
from tests.integration.billing_support import applied_events, enrolled_event, terminated_event

pytestmark = pytest.mark.integration

COUNT = 90


async def one_partition_nack(self: KafkaAckableMessage) -> None:
    """`nack()` as other FastStream releases do it: only the first record's partition."""
    if not self.committed:
        raw = self.raw_message
        first = raw[0] if isinstance(raw, tuple) else raw
        self.consumer.seek(TopicPartition(first.topic, first.partition), first.offset)
    await StreamMessage.nack(self)


async def publish(bootstrap: str, records: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic, key, payload in records:
            await producer.send(topic, json.dumps(payload).encode(), key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_failed_batch_across_partitions_and_both_ledger_topics_is_processed_again(
    settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KafkaAckableMessage, "nack", one_partition_nack)
    real = billing.record_coverage
    failed: list[set[tuple[str, int]]] = []

    async def fail_first_wide_batch(uow: Any, batch: Sequence[Message], now: Any) -> Any:
        where = {(r.topic, r.partition) for r in batch}
        if not failed and len({t for t, _ in where}) == 2 and len(where) >= 4:
            failed.append(where)
            raise RuntimeError("injected: this batch fails once")
        return await real(uow, batch, now)

    monkeypatch.setattr(billing, "record_coverage", fail_first_wide_batch)
    bootstrap = settings.kafka_bootstrap or ""
    records = []
    for i in range(COUNT):
        m = f"KDS-{i:09d}"
        records.append((topics.ENROLLED, m, enrolled_event(m, "2025-02-01")))
        if i % 3 == 0:
            terminated = terminated_event(m, "2025-02-01", "2025-03-31")
            records.append((topics.TERMINATED, m, terminated))
    topics_read = sorted({t for t, _, _ in records})
    await publish(bootstrap, records)

    async def failed_once() -> bool:
        return bool(failed)

    async with running(replace(settings, retry_initial_seconds=0.05), ["billing"]):
        await wait_until(failed_once, timeout=60, what="a batch over both topics to fail")
        # published after the failure: once they are dead letters, every partition was read
        # past the failed batch (a partition's records are processed in order)
        markers = [m for t in topics_read for m in await publish_markers(bootstrap, t)]
        await wait_until(
            lambda: markers_dead_lettered(pool, markers), timeout=90, what="every marker"
        )

    assert len(await applied_events(pool)) == len(records)
    assert await pool.fetchval("SELECT count(*) FROM coverage") == COUNT
    ended = await pool.fetchval("SELECT count(*) FROM coverage WHERE coverage_end IS NOT NULL")
    assert ended == len(records) - COUNT


async def test_consumer_whose_batch_fails_beyond_the_poison_share_stops_and_says_why(
    settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def buggy(uow: Any, batch: Sequence[Message], now: Any) -> Any:
        async with uow.transaction() as store:  # a bug: every record fails
            await store.conn.execute("SELECT 'not a number'::numeric")

    monkeypatch.setattr(billing, "record_coverage", buggy)
    records = [
        (topics.ENROLLED, "KDS-000000001", enrolled_event(f"KDS-{i:09d}", "2025-02-01"))
        for i in range(10)
    ]
    await publish(settings.kafka_bootstrap or "", records)
    async with running(replace(settings, retry_initial_seconds=0.05), ["billing"]) as runtime:

        async def stopped() -> bool:
            return runtime.conditions.troubles.get(LEDGER, "").startswith("stopped: ")

        await wait_until(stopped, timeout=60, what="the ledger consumer to stop")
        assert "records of a batch failed" in runtime.conditions.troubles[LEDGER]
        assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0
