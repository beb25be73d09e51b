"""Registration and verification against real PostgreSQL and the tansu broker."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from jamsos.settings import Settings
from jamsos_schemas import topics
from tests.conftest import markers_dead_lettered, publish_markers, running, wait_until
from tests.factory import submission

pytestmark = pytest.mark.integration


async def publish(bootstrap: str, messages: list[tuple[str | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        futures = [
            await producer.send(topics.SUBMITTED, value, key=None if key is None else key.encode())
            for key, value in messages
        ]
        for f in futures:
            await f
    finally:
        await producer.stop()


def as_message(payload: dict[str, Any]) -> tuple[str | None, bytes]:
    return payload["worker"]["nik"] if isinstance(
        payload.get("worker"), dict
    ) else None, json.dumps(payload).encode()


async def statuses(pool: asyncpg.Pool) -> dict[str, str]:
    rows = await pool.fetch("SELECT submission_id, status FROM submissions")
    return {r["submission_id"]: r["status"] for r in rows}


async def test_contract_example_is_enrolled_once_even_when_published_twice(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    payload = submission()
    async with running(settings, ["registration", "verification"]):
        await publish(settings.kafka_bootstrap or "", [as_message(payload), as_message(payload)])

        async def enrolled_and_published() -> bool:
            n = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE topic = $1 AND published_at IS NOT NULL",
                topics.ENROLLED,
            )
            return bool(n)

        await wait_until(enrolled_and_published, what="enrolment")
        # The second copy is consumed once the marker behind it on its partition is.
        markers = await publish_markers(settings.kafka_bootstrap or "", topics.SUBMITTED)
        await wait_until(lambda: markers_dead_lettered(pool, markers), what="the markers")
    assert await statuses(pool) == {payload["submission_id"]: "ENROLLED"}
    rows = await pool.fetch("SELECT topic FROM outbox WHERE topic <> $1", topics.DLQ)
    assert sorted(r["topic"] for r in rows) == sorted([topics.ACCEPTED, topics.ENROLLED])
    letters = await pool.fetch("SELECT value FROM dead_letters")
    assert sorted(bytes(r["value"]) for r in letters) == sorted(markers)  # not SUBMISSION_ID_REUSED
