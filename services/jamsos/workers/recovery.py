"""Owning redelivery: a failed batch is sought back on every partition it came from."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from jamsos.usecases.messages import Message


def earliest_offsets(batch: Iterable[Message]) -> dict[TopicPartition, int]:
    """Each partition of the batch with the offset of its earliest record in the batch."""
    earliest: dict[TopicPartition, int] = {}
    for record in batch:
        tp = TopicPartition(record.topic, record.partition)
        earliest[tp] = min(record.offset, earliest.get(tp, record.offset))
    return earliest


def rewind(consumer: AIOKafkaConsumer, batch: Iterable[Message]) -> None:
    """Seek every partition the batch came from back to its earliest record, so that the next
    fetch re-reads the whole batch and no later commit passes an unprocessed record.

    Ours rather than the library's: FastStream's `nack()` seeks every partition of a batch in
    0.7.8, but other releases seek only the partition of the batch's first record. A partition
    taken away by a rebalance meanwhile is skipped: its new owner starts at the committed offset.
    """
    assigned = consumer.assignment()
    for tp, offset in earliest_offsets(batch).items():
        if tp in assigned:
            consumer.seek(tp, offset)
