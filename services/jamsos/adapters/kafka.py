"""Kafka adapters: broker and producer factories (delivery settings), topic admin, raw records."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from jamsos.settings import KafkaSecurity, Settings
from jamsos.usecases.messages import Message
from jamsos_schemas.topics import DLQ as DLQ_TOPIC

# What one fetch of our consumers may bring, over all their partitions (aiokafka: 50 MB).
# tansu answers up to that whatever `max_partition_fetch_bytes` (1 MB) says: draining a backlog,
# registration held six fetched responses of ~5.4 MB each. At 4 MB a fetch still holds more
# than a batch (2,000 submissions ~1.6 MB; the ledger's 5,000 events ~3.1 MB), and smaller
# responses parsed more often interleave better with the batches: measured interleaved on
# tansu, peak RSS ~10-15 MB lower per service and the ledger's intake 16-29% faster (README,
# performance, 6 December). Kafka returns a record batch larger than this anyway.
FETCH_MAX_BYTES = 4 * 1024 * 1024


def _headers(headers: Iterable[tuple[str, bytes | None]]) -> tuple[tuple[str, bytes], ...]:
    """A record's headers as (name, bytes) pairs; a header without a value as b""."""
    return tuple((name, bytes(value or b"")) for name, value in headers)


def inbound(records: Iterable[ConsumerRecord[Any, Any]]) -> list[Message]:
    """Raw consumer records as messages, in the order received (most records have no
    headers: those skip building a tuple from a generator, ~0.2 µs a record)."""
    return [
        Message(
            r.topic,
            r.partition,
            r.offset,
            r.key,
            b"" if r.value is None else r.value,
            _headers(r.headers) if r.headers else (),
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


# The aiokafka keyword arguments of a client without authentication (tansu, tests).
NO_SECURITY: Mapping[str, Any] = MappingProxyType({})
_SCRAM = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def client_security(security: KafkaSecurity) -> Mapping[str, Any]:
    """The aiokafka keyword arguments (`security_protocol`, `sasl_*`, `ssl_context`) that every
    producer, consumer and admin client is given, from JAMSOS_KAFKA_* (settings.KafkaSecurity).
    """
    if security.protocol == "PLAINTEXT":
        return NO_SECURITY
    options: dict[str, Any] = {"security_protocol": security.protocol}
    if security.tls:
        options["ssl_context"] = create_ssl_context(cafile=security.ssl_cafile)
    if security.sasl:
        options |= {
            "sasl_mechanism": security.sasl_mechanism,
            "sasl_plain_username": security.username,
            "sasl_plain_password": security.password,
        }
    return MappingProxyType(options)


def broker_security(security: KafkaSecurity) -> BaseSecurity | None:
    """The same as `client_security`, as FastStream's broker wants it."""
    if security.protocol == "PLAINTEXT":
        return None
    context = create_ssl_context(cafile=security.ssl_cafile) if security.tls else None
    if not security.sasl:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    assert security.sasl_mechanism and security.username and security.password is not None
    return _SCRAM[security.sasl_mechanism](
        security.username, security.password, ssl_context=context, use_ssl=security.tls
    )


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
        security=broker_security(settings.kafka_security),
    )


def dlq_message_bytes(max_message_bytes: int) -> int:
    """The largest dead-letter event: it carries a record of up to `max_message_bytes` (key +
    value) base64-encoded (4/3 of it) with its position and error, so twice the record limit
    plus 64 KiB. The DLQ topic is created with this `max.message.bytes` and producers may send
    it; without that, one dead letter of a large record would stall the outbox relay."""
    return 2 * max_message_bytes + 64 * 1024


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Per-topic configs set when a topic is created (the others keep the broker's defaults,
    whose 1 MiB `message.max.bytes` is JAMSOS_MAX_MESSAGE_BYTES's default)."""
    return {DLQ_TOPIC: {"max.message.bytes": str(dlq_message_bytes(settings.max_message_bytes))}}


def make_producer(settings: Settings, client_id: str) -> AIOKafkaProducer:
    """A raw producer for the outbox relay: acks and idempotence from settings."""
    return AIOKafkaProducer(
        bootstrap_servers=_bootstrap(settings),
        client_id=client_id,
        enable_idempotence=settings.kafka_idempotence,
        acks="all" if settings.kafka_acks == "all" else int(settings.kafka_acks),
        linger_ms=settings.kafka_linger_ms,
        max_batch_size=256 * 1024,
        max_request_size=dlq_message_bytes(settings.max_message_bytes),
        **client_security(settings.kafka_security),
    )


async def wait_for_broker(
    bootstrap: str, timeout: float = 30.0, security: Mapping[str, Any] = NO_SECURITY
) -> None:
    """Wait until the broker answers metadata requests."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
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
    bootstrap: str,
    topics: Sequence[str],
    partitions: int,
    replication_factor: int = 1,
    security: Mapping[str, Any] = NO_SECURITY,
    configs: Mapping[str, Mapping[str, str]] = NO_SECURITY,
) -> list[str]:
    """Create the topics that do not exist yet, each with its `configs` (`topic_configs`);
    returns the ones created (idempotent: an existing topic is left as it is)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            # created meanwhile by another caller: that is the goal
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            t,
                            partitions,
                            replication_factor,
                            topic_configs=dict(configs.get(t, {})),
                        )
                        for t in missing
                    ]
                )
        return missing
    finally:
        await admin.close()
