"""The outbox's record batches: one open batch per topic-partition (`outbox.send`)."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import BrokerResponseError, MessageSizeTooLargeError

_M = 0x5BD1E995
_WORDS = [struct.Struct(f"<{n}I") for n in range(64)]  # keys up to 255 bytes without a new one


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of a key (the Java client's `Utils.murmur2`, as an unsigned 32-bit
    value): aiokafka's DefaultPartitioner computes the same one byte by byte in Python, ~4 µs
    for a NIK on the development machine; this takes the 32-bit words in one `unpack`, ~2 µs.
    Held equal to aiokafka's by tests/unit/test_batches.py."""
    length = len(data)
    h = 0x9747B28C ^ length
    count = length >> 2
    words = _WORDS[count] if count < len(_WORDS) else struct.Struct(f"<{count}I")
    for k in words.unpack_from(data):
        k = (k * _M) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * _M) & 0xFFFFFFFF
        h = ((h * _M) & 0xFFFFFFFF) ^ k
    rest = length & 3
    if rest:
        end = length - rest
        if rest == 3:
            h ^= data[end + 2] << 16
        if rest >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: list[int]) -> int:
    """The partition the producer's default partitioner gives `key` among `partitions`
    (sorted), as `send` would choose it."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]


@dataclass(frozen=True)
class Staged:
    """An outbox row a transaction inserted: its id and what to send."""

    id: int
    topic: str
    key: bytes | None
    value: bytes


Sent = list[tuple[list[Staged], "asyncio.Future[object] | BaseException"]]


class Batches:
    """One open record batch per topic-partition; a batch full, or a row sent on its own, sends
    what its partition holds first, so each partition's rows leave in their order."""

    def __init__(self, producer: AIOKafkaProducer, sent: Sent):
        self._producer, self._sent = producer, sent
        self._open: dict[tuple[str, int], tuple[Any, list[Staged]]] = {}
        self._partitions: dict[str, list[int]] = {}

    async def partition(self, topic: str, key: bytes) -> int:
        """The partition the producer's default partitioner gives `key` (what `send` does)."""
        known = self._partitions.get(topic)
        if known is None:
            known = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return partition_of(key, known)

    async def add(self, r: Staged, partition: int) -> None:
        tp = (r.topic, partition)
        if tp in self._open:
            batch, held = self._open[tp]
            if batch.append(key=r.key, value=r.value, timestamp=None) is not None:
                held.append(r)
                return
            await self.flush(tp)
        batch = self._producer.create_batch()
        if batch.append(key=r.key, value=r.value, timestamp=None) is None:
            await self.single(r, partition)  # larger than a batch: `send` checks its size
            return
        self._open[tp] = (batch, [r])

    async def single(self, r: Staged, partition: int | None) -> None:
        if partition is not None:
            await self.flush((r.topic, partition))
        try:
            self._sent.append(([r], await self._producer.send(r.topic, r.value, key=r.key)))
        except MessageSizeTooLargeError as too_large:  # refused before it reaches the broker
            self._sent.append(([r], too_large))

    async def flush(self, tp: tuple[str, int] | None = None) -> None:
        for each in [tp] if tp is not None else list(self._open):
            if each in self._open:
                batch, held = self._open.pop(each)
                batch.close()
                future = await self._producer.send_batch(batch, each[0], partition=each[1])
                self._sent.append((held, future))


def refused(error: BaseException) -> bool:
    """Whether the broker (or the producer itself) refuses this record for good: an error
    response that aiokafka does not call retriable (record too large for the topic, a missing
    ACL, an invalid record or topic), or a record larger than the producer's
    max_request_size. Everything else (connection lost, leader moved, not enough replicas, a
    timeout, an unknown topic that may yet be created) is retried."""
    if isinstance(error, MessageSizeTooLargeError):
        return True
    return isinstance(error, BrokerResponseError) and not error.retriable


def what_failed(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
