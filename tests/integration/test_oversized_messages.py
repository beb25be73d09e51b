"""Oversized records on the real broker: a value above JAMSOS_MAX_MESSAGE_BYTES is dead-lettered
as MESSAGE_TOO_LARGE (a prefix of its bytes, its size and SHA-256), the records around it on the
same partition are decided as usual, and the dead-letter event itself reaches the DLQ topic."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka.message import KafkaAckableMessage
from faststream.message import StreamMessage

from jamsos.adapters.embedded import embedded_broker
from jamsos.adapters.kafka import create_topics, topic_configs, wait_for_broker
from jamsos.settings import Settings
from jamsos.usecases.deadletters import OVERSIZED_PREFIX_BYTES
from jamsos.workers import runtime as worker_runtime
from jamsos_schemas import topics
from tests.conftest import read_topic, running, wait_until
from tests.factory import submission

pytestmark = pytest.mark.integration


async def _publish(bootstrap: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        for value in values:  # one partition: the oversized record sits between the others
            await producer.send_and_wait(topics.SUBMITTED, value, partition=0)
    finally:
        await producer.stop()


async def test_oversized_submission_is_dead_lettered_and_its_partition_goes_on(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    settings = replace(settings, max_message_bytes=256 * 1024)
    before = json.dumps(submission(submission_id="OK-1")).encode()
    # a readable submission, only far too long: the limit, not the decoder, refuses it
    huge = json.dumps(submission(submission_id="BIG-1", note="x" * (3 * 1024 * 1024))).encode()
    after = json.dumps(submission(submission_id="OK-2")).encode()
    async with running(settings, ["registration"]) as runtime:
        await _publish(settings.kafka_bootstrap or "", [before, huge, after])

        async def decided() -> bool:
            n = await pool.fetchval(
                "SELECT count(*) FROM submissions WHERE submission_id IN ('OK-1', 'OK-2')"
            )
            return bool(n == 2)

        await wait_until(decided, timeout=60, what="the records around the oversized one")
        letters = await wait_until(
            lambda: pool.fetch('SELECT value, error, partition, "offset" FROM dead_letters'),
            what="the oversized record's dead letter",
        )
        dead = {"error": "MESSAGE_TOO_LARGE"}
        assert runtime.metrics.registry.get_sample_value("jamsos_dead_letters_total", dead) == 1

    [letter] = letters
    assert (letter["partition"], letter["offset"]) == (0, 1)
    assert bytes(letter["value"]) == huge[:OVERSIZED_PREFIX_BYTES]
    error = letter["error"]
    assert error.startswith(f"MESSAGE_TOO_LARGE: {len(huge)} bytes, more than")
    assert hashlib.sha256(huge).hexdigest() in error
    assert (
        await pool.fetchval("SELECT count(*) FROM submissions WHERE submission_id = 'BIG-1'") == 0
    )

    async def on_dlq_topic() -> list[dict[str, object]]:
        return await read_topic(settings.kafka_bootstrap or "", topics.DLQ)

    [event] = await wait_until(on_dlq_topic, what="the dead-letter event on jamsos.dlq.v1")
    assert base64.b64decode(str(event["value_b64"])) == huge[:OVERSIZED_PREFIX_BYTES]
    assert event["error"] == error


async def test_dead_letter_of_a_record_near_the_limit_reaches_the_dlq_topic(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    # Unreadable bytes just under the 1 MiB default: kept whole, their dead-letter event
    # (base64, ~1.2 MiB) is larger than a default producer request; the relay must send it.
    assert settings.max_message_bytes == 1024 * 1024
    garbage = b"\xff" * (settings.max_message_bytes - 100)
    async with running(settings, ["registration"]):
        await _publish(settings.kafka_bootstrap or "", [garbage])

        async def on_dlq_topic() -> list[dict[str, object]]:
            return await read_topic(settings.kafka_bootstrap or "", topics.DLQ)

        [event] = await wait_until(on_dlq_topic, what="the dead-letter event on jamsos.dlq.v1")
    assert base64.b64decode(str(event["value_b64"])) == garbage
    assert str(event["error"]).startswith("UNREADABLE")


async def test_dlq_topic_is_created_with_room_for_the_largest_dead_letter(
    settings: Settings,
) -> None:
    configs = topic_configs(settings)
    assert configs == {topics.DLQ: {"max.message.bytes": str(2 * 1024 * 1024 + 64 * 1024)}}
    with embedded_broker(settings.state_dir / "fresh") as bootstrap:  # accepted by tansu too
        await wait_for_broker(bootstrap)
        created = await create_topics(bootstrap, topics.ALL_TOPICS, 1, configs=configs)
        assert created == list(topics.ALL_TOPICS)


async def test_failed_batch_of_only_an_oversized_record_is_read_again_without_the_libraries_nack(
    settings: Settings, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker seeks back every partition of a failed batch, also one that held only
    records split off as oversized: a `nack()` that seeks nothing must lose none of them."""

    async def nack_without_seek(self: KafkaAckableMessage) -> None:
        await StreamMessage.nack(self)

    monkeypatch.setattr(KafkaAckableMessage, "nack", nack_without_seek)
    real = worker_runtime.refuse_oversized
    failed: list[bool] = []

    async def fail_once(*args: object, **kwargs: object) -> object:
        if not failed:
            failed.append(True)
            raise RuntimeError("injected: the oversized record's batch fails once")
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(worker_runtime, "refuse_oversized", fail_once)
    settings = replace(settings, max_message_bytes=256 * 1024, retry_initial_seconds=0.05)
    huge = json.dumps(submission(submission_id="BIG-1", note="x" * (1024 * 1024))).encode()
    async with running(settings, ["registration"]):
        await _publish(settings.kafka_bootstrap or "", [huge])
        letters = await wait_until(
            lambda: pool.fetch("SELECT error FROM dead_letters"),
            timeout=60,
            what="the oversized record's dead letter after its batch failed once",
        )
    assert failed
    assert [r["error"].split(":")[0] for r in letters] == ["MESSAGE_TOO_LARGE"]
