"""Transactional outbox: events are written with the change that caused them (`add`), sent
(`send`: record batches per partition, refusals told apart) and marked published or failed;
the ops queries (pending, failed, retry). Who sends them is `relay.py`: the process that
wrote them, right after the commit, and the sweeper for rows nobody published.

Nothing holds a database transaction open while it waits for Kafka's acks: rows are read,
sent, acknowledged, and only then marked published in a statement of their own. A crash in
between re-publishes the same events (same event_id): at-least-once, readers de-duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from jamsos.adapters.arrays import text_array
from jamsos.adapters.batches import Batches, Sent, Staged, refused, what_failed
from jamsos.faults import Fault
from jamsos.usecases.rows import OutboxEvent

__all__ = ["Staged", "refused"]
NO_FAULT = Fault()
_BATCHED_BYTES = 64 * 1024  # rows larger than this go through `send` (size checked there)
LOST = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)
log = logging.getLogger("jamsos.outbox")


async def add(conn: asyncpg.Connection, events: Sequence[OutboxEvent]) -> list[Staged]:
    """Insert events in the caller's transaction; an event_id already there is skipped.
    Returns the rows inserted (those skipped are left to whoever wrote them, or the sweeper)."""
    if not events:
        return []
    rows = await conn.fetch(
        """
        INSERT INTO outbox (event_id, topic, key, value)
        SELECT event_id, topic, key, value
        FROM unnest($1::uuid[], $2::text::text[], $3::bytea[], $4::bytea[])
            WITH ORDINALITY AS e(event_id, topic, key, value, ord)
        ORDER BY ord
        ON CONFLICT (event_id) DO NOTHING
        RETURNING id, event_id
        """,
        [e.event_id for e in events],
        text_array([e.topic for e in events]),
        [e.key for e in events],
        [e.value for e in events],
    )
    by_id = {e.event_id: e for e in events}
    staged = [Staged(r["id"], *_what(by_id[r["event_id"]])) for r in rows]
    staged.sort(key=lambda s: s.id)
    return staged


def _what(e: OutboxEvent) -> tuple[str, bytes | None, bytes]:
    return (e.topic, e.key, e.value)


@dataclass(frozen=True)
class Refusal:
    """A row the broker refused for good, and its error."""

    row: Staged
    error: str


async def send(
    producer: AIOKafkaProducer, rows: Sequence[Staged], fault: Fault, batched: bool = True
) -> list[Refusal]:
    """Send rows in order and wait for every ack. Returns the rows refused for good; raises
    the first retriable error once every ack is in (nothing is marked then, so all are sent
    again: at-least-once).

    Rows go as one record batch per partition (`send_batch`), the partition computed with the
    producer's default partitioner as `send` would (keyed rows; a row without a key, or larger
    than a batch, goes through `send`). A batch refused for good is sent again row by row, so
    only the rows refused on their own are marked failed."""
    fault.reach("relay.before-publish", "relay")
    sent: Sent = []
    batches = Batches(producer, sent)
    for r in rows:
        if r.key is None or not batched:
            await batches.single(r, None)
        else:
            partition = await batches.partition(r.topic, r.key)
            if len(r.value) + len(r.key) > _BATCHED_BYTES:
                await batches.single(r, partition)
            else:
                await batches.add(r, partition)
    await batches.flush()
    refusals: list[Refusal] = []
    retry: BaseException | None = None
    for held, future in sent:
        error: BaseException | None = None
        if isinstance(future, BaseException):
            error = future
        else:
            try:
                await future
            except KafkaError as failed:
                error = failed
        if error is None:
            continue
        if refused(error) and len(held) > 1:
            try:
                refusals += await send(producer, held, NO_FAULT, batched=False)  # which ones?
            except KafkaError as failed:
                retry = retry or failed
        elif refused(error):
            refusals.append(Refusal(held[0], what_failed(error)))
        elif retry is None:
            retry = error
    if retry is not None:
        raise retry
    fault.reach("relay.after-publish", "relay")
    return refusals


async def _fail(conn: asyncpg.Connection | asyncpg.Pool, refusals: Sequence[Refusal]) -> None:
    """Mark rows refused for good (an ERROR line each); they are no longer pending."""
    if not refusals:
        return
    for f in refusals:
        log.error(
            "outbox row %d (topic %s) refused for good by the broker, marked failed: %s"
            " (retry it with `jamsos ops outbox retry` after fixing the cause)",
            f.row.id,
            f.row.topic,
            f.error,
        )
    await conn.execute(
        "UPDATE outbox o SET failed_at = now(), failure = f.failure"
        " FROM unnest($1::bigint[], $2::text[]) AS f(id, failure)"
        " WHERE o.id = f.id AND o.published_at IS NULL",
        [f.row.id for f in refusals],
        [f.error for f in refusals],
    )


async def settle(
    conn: asyncpg.Connection | asyncpg.Pool, rows: Sequence[Staged], refusals: Sequence[Refusal]
) -> None:
    """Mark the sent rows published and the refused ones failed."""
    out = {f.row.id for f in refusals}
    await _fail(conn, refusals)
    await _mark(conn, [r.id for r in rows if r.id not in out])


async def _mark(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])"
        " AND published_at IS NULL",
        list(ids),
    )


async def pending(conn: asyncpg.Connection) -> int:
    """How many outbox rows are not published yet (served by the partial index)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM outbox WHERE published_at IS NULL AND failed_at IS NULL"
    )
    return count


async def failed(conn: asyncpg.Connection) -> int:
    """How many outbox rows the broker refused for good (marked failed, not retried)."""
    count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL")
    return count


async def failures(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """The failed rows, oldest first (served by the outbox_failed index)."""
    return list(
        await conn.fetch(
            "SELECT id, event_id, topic, key, failed_at, failure FROM outbox"
            " WHERE failed_at IS NOT NULL ORDER BY id"
        )
    )


async def retry(conn: asyncpg.Connection, ids: Sequence[int] | None) -> list[int]:
    """Clear the failure of `ids` (all failed rows when None): the sweeper publishes them.
    Returns the ids cleared."""
    rows = await conn.fetch(
        "UPDATE outbox SET failed_at = NULL, failure = NULL WHERE failed_at IS NOT NULL"
        " AND ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) RETURNING id",
        None if ids is None else list(ids),
    )
    return sorted(r["id"] for r in rows)
