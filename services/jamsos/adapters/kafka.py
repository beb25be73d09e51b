"""Kafka adapters: broker and producer factories (delivery settings), topic admin, raw records."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from jamsos.settings import Settings
from jamsos.usecases.messages import Message


def inbound(records: Iterable[ConsumerRecord[Any, Any]]) -> list[Message]:
    """Raw consumer records as messages, in the order received."""
    return [
        Message(
            r.topic,
            r.partition,
            r.offset,
            r.key,
            r.value if r.value is not None else b"",
            tuple((name, bytes(value or b"")) for name, value in r.headers or ()),
        )
        for r in records
    ]


async def raw_records(msg: StreamMessage[Any]) -> Any:
    """FastStream decoder that hands the handler the untouched consumer records.

    Decoding is the use case's job, so that unreadable bytes become a DLQ record instead of
    a decode error that would be redelivered forever.
    """
    raw = msg.raw_message
    return list(raw) if isinstance(raw, tuple) else [raw]


def _bootstrap(settings: Settings) -> str:
    if settings.kafka_bootstrap is None:
        raise RuntimeError("JAMSOS_KAFKA_BOOTSTRAP is not set (jamsos up starts an embedded one)")
    return settings.kafka_bootstrap


class ConcurrentStartBroker(KafkaBroker):
    """A KafkaBroker that starts its subscribers concurrently.

    Each subscriber is its own consumer, and aiokafka's `start()` waits for the group join
    (about 5 s on tansu, a few seconds on Kafka). FastStream starts subscribers one after the
    other, so a process with five of them took 25 s to come up; together they take one join.
    Mirrors `BrokerUsecase.start` of FastStream 0.7 otherwise.
    """

    async def start(self) -> None:
        """Connect, then start every subscriber at once, then the publishers."""
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


def make_broker(settings: Settings, client_id: str) -> KafkaBroker:
    """A FastStream broker configured for the target cluster."""
    logger = logging.getLogger(f"jamsos.{client_id}")
    # FastStream's own INFO lines (every partition assignment, task callbacks at shutdown)
    # would drown jamsos's one line per batch: they show from DEBUG only.
    level = logging.getLevelName(settings.log_level)
    logger.setLevel(logging.WARNING if level == logging.INFO else settings.log_level)
    return ConcurrentStartBroker(
        _bootstrap(settings),
        client_id=client_id,
        enable_idempotence=settings.kafka_idempotence,
        acks="all" if settings.kafka_acks == "all" else int(settings.kafka_acks),
        logger=logger,
        log_level=logging.DEBUG,
    )


def make_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    """A raw producer for the outbox relay: acks and idempotence from settings."""
    return AIOKafkaProducer(
        bootstrap_servers=_bootstrap(settings),
        client_id=client_id,
        enable_idempotence=settings.kafka_idempotence,
        acks="all" if settings.kafka_acks == "all" else int(settings.kafka_acks),
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


async def wait_for_broker(bootstrap: str, timeout: float = 30.0) -> None:
    """Wait until the broker answers metadata requests."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)
        finally:
            await admin.close()


async def create_topics(
    bootstrap: str, topics: Sequence[str], partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            # created meanwhile by another caller: that is the goal
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(t, partitions, replication_factor) for t in missing]
                )
        return missing
    finally:
        await admin.close()
