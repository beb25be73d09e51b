"""Turn an unprocessable record into a dead letter: a DB row plus a `jamsos.dlq.v1` event."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence

from jamsos.domain.identity import event_id
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, DeadLetterError
from jamsos.usecases.ports import DeadLetterStore, UnitOfWork
from jamsos.usecases.reading import value_digest
from jamsos.usecases.rows import DeadLetter, OutboxEvent
from jamsos_schemas import topics
from jamsos_schemas.dlq import DeadLetterV1


def _key_text(key: bytes) -> str:
    """The original key as text, or `base64:…` when it is not UTF-8 (DeadLetterV1.key)."""
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(key).decode("ascii")


def dead_letter(record: Message, error: str, now: dt.datetime) -> tuple[DeadLetter, OutboxEvent]:
    """The dead letter for `record`; its id is derived from where it was and what it held."""
    digest = value_digest(record.value)
    eid = event_id("dlq", record.topic, str(record.partition), str(record.offset), digest, error)
    key = None if record.key is None else _key_text(record.key)
    event = DeadLetterV1(
        event_id=eid,
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        value_b64=base64.b64encode(record.value).decode("ascii"),
        error=error,
        failed_at=now,
    )
    return DeadLetter(eid, record, error), OutboxEvent.of(topics.DLQ, key, event, eid)


# How much of an oversized record a MESSAGE_TOO_LARGE dead letter keeps: its event carries the
# value base64-encoded (4/3 of the size) and must stay far below what the DLQ topic takes.
OVERSIZED_PREFIX_BYTES = 64 * 1024


def size(record: Message) -> int:
    """A record's size as Kafka's `max.message.bytes` counts it, less the framing: key + value."""
    return len(record.key or b"") + len(record.value)


def oversized(batch: Sequence[Message], limit: int) -> tuple[list[Message], list[Message]]:
    """The records of at most `limit` bytes (key + value), and those above it, each in the
    batch's order (one pass over the batch when nothing is above it, the usual case)."""
    above = [r for r in batch if size(r) > limit]
    if not above:
        return list(batch), above
    return [r for r in batch if size(r) <= limit], above


async def refuse_oversized(
    uow: UnitOfWork[DeadLetterStore], records: Sequence[Message], limit: int, now: dt.datetime
) -> BatchSummary:
    """Dead-letter records above `limit` bytes as MESSAGE_TOO_LARGE, in one transaction.

    The dead letter (row and event) keeps the first OVERSIZED_PREFIX_BYTES of the value, and
    its error the whole value's size and SHA-256: the whole bytes would not fit the DLQ topic
    (README, "Oversized messages"). Its id is derived from the record's position and content,
    so a redelivered record is dead-lettered once.
    """
    letters, events = [], []
    for record in records:
        error = DeadLetterError.MESSAGE_TOO_LARGE.of(
            f"{size(record)} bytes, more than JAMSOS_MAX_MESSAGE_BYTES={limit};"
            f" sha256 {value_digest(record.value)}; the dead letter keeps the first"
            f" {min(len(record.value), OVERSIZED_PREFIX_BYTES)} bytes"
        )
        kept = record._replace(value=record.value[:OVERSIZED_PREFIX_BYTES])
        letter, event = dead_letter(kept, error, now)
        letters.append(letter)
        events.append(event)
    async with uow.transaction() as store:
        await store.add_dead_letters(letters, now)
        await store.add_events(events)
    summary = BatchSummary(received=len(records))
    summary.dead_lettered(letter.error for letter in letters)
    return summary


async def quarantine(
    uow: UnitOfWork[DeadLetterStore], record: Message, error: str, now: dt.datetime
) -> None:
    """Dead-letter one record in its own transaction (used when processing it keeps failing)."""
    letter, event = dead_letter(record, error, now)
    async with uow.transaction() as store:
        await store.add_dead_letters([letter], now)
        await store.add_events([event])
