"""Turn an unprocessable record into a dead letter: a DB row plus a `jamsos.dlq.v1` event."""

from __future__ import annotations

import base64
import datetime as dt

from jamsos.domain.identity import event_id
from jamsos.usecases.messages import Message
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


async def quarantine(
    uow: UnitOfWork[DeadLetterStore], record: Message, error: str, now: dt.datetime
) -> None:
    """Dead-letter one record in its own transaction (used when processing it keeps failing)."""
    letter, event = dead_letter(record, error, now)
    async with uow.transaction() as store:
        await store.add_dead_letters([letter], now)
        await store.add_events([event])
