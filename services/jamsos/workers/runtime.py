"""What every service's handlers need, filled in by the composition root at startup."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaRouter

from jamsos.adapters.kafka import inbound, raw_records
from jamsos.adapters.metrics import Metrics
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.coverage import JAKARTA
from jamsos.settings import Settings
from jamsos.usecases.deadletters import quarantine
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, DeadLetterError

log = logging.getLogger(__name__)


def jakarta_now() -> dt.datetime:
    """The current time in Asia/Jakarta (events carry this offset)."""
    return dt.datetime.now(JAKARTA)


@dataclass
class Runtime:
    """Settings plus the resources opened in the app's lifespan (the pool), and the process's
    metrics."""

    settings: Settings
    clock: Callable[[], dt.datetime] = jakarta_now
    metrics: Metrics = field(default_factory=Metrics)
    http_port: int | None = None  # where /health and /metrics are served, once they are
    _pool: asyncpg.Pool | None = field(default=None, repr=False)

    @property
    def pool(self) -> asyncpg.Pool:
        """The database pool; only valid while the app runs."""
        if self._pool is None:
            raise RuntimeError("the database pool is not open")
        return self._pool

    @property
    def uow(self) -> PostgresUnitOfWork:
        """Transactions on the pool, for the use cases."""
        return PostgresUnitOfWork(self.pool)

    def open(self, pool: asyncpg.Pool) -> None:
        """Attach the pool opened at startup."""
        self._pool = pool

    async def close(self) -> None:
        """Close the pool, if startup got as far as opening it."""
        if self._pool is not None:
            await self._pool.close()


# Errors that one record can cause (bad data, an impossible row): they would fail the batch
# forever, so the batch is decided record by record and the one that fails is quarantined.
# Use cases turn the bad input they know of into dead letters themselves; this is the backstop
# for what they did not foresee (ValueError covers decoding and validation errors).
POISON = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
    ValueError,
    RecursionError,
)
# Errors of the infrastructure: the batch is redelivered after a pause.
OUTAGE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)


Decide = Callable[[Sequence[Message]], Awaitable[BatchSummary]]


async def process(
    runtime: Runtime, batch: Sequence[Message], decide: Decide, what: str
) -> BatchSummary:
    """Decide a batch; on an outage pause and re-raise (Kafka redelivers the batch); on an error
    that one record causes, decide the records one by one and quarantine the failing one in the
    DLQ, so that a poison message neither blocks its partition nor disappears.

    What each transaction committed is counted in the metrics right after its commit (so a
    redelivered batch, which commits nothing new, counts nothing); returns the whole batch's.
    """
    try:
        summary = await decide(batch)
    except OUTAGE as error:
        log.warning("%s failed (%s); the batch will be redelivered", what, error)
        await asyncio.sleep(1.0)
        raise
    except POISON as error:
        if len(batch) > 1:
            log.warning("%s: %s; deciding its %d records one by one", what, error, len(batch))
            merged = BatchSummary(received=len(batch))
            for record in batch:
                merged.add(await process(runtime, [record], decide, what))
            return merged
        [record] = batch
        log.error(
            "%s: %s[%d]@%d failed: %s; quarantined in the DLQ",
            what,
            record.topic,
            record.partition,
            record.offset,
            error,
        )
        reason = DeadLetterError.PROCESSING_FAILED.of(f"{type(error).__name__}: {error}")
        await quarantine(runtime.uow, record, reason, runtime.clock())
        summary = BatchSummary(received=1)
        summary.dead_lettered([reason])
    runtime.metrics.committed(summary.outcomes, summary.reasons, summary.dead_letters)
    return summary


def consume(
    router: KafkaRouter,
    runtime: Runtime,
    *topic_names: str,
    group: str,
    decide: Decide,
    title: str,
    description: str,
) -> None:
    """Subscribe `decide` (a use case bound to its dependencies) to `topic_names` as consumer
    group `<prefix>.<group>`.

    Batches of raw records (decoding is the use case's job, so unreadable bytes become a dead
    letter rather than a decode error redelivered forever); the offset is committed only after
    the use case's transaction (NACK_ON_ERROR: on an error the batch is sought back).
    Each batch is timed, counted and logged in one INFO line.
    """
    settings = runtime.settings
    metrics = runtime.metrics

    async def handle(records: Any) -> None:
        batch = inbound(records)
        metrics.taken(batch)
        started = time.perf_counter()
        try:
            summary = await process(runtime, batch, decide, group)
        finally:
            seconds = time.perf_counter() - started
            metrics.batch_duration.labels(consumer=group).observe(seconds)
        log.info(
            "batch consumer=%s records=%d new=%d repeated=%d outcomes=%s ms=%d",
            group,
            len(batch),
            summary.new,
            summary.repeated,
            ",".join(f"{k}:{v}" for k, v in sorted(summary.counts.items()) if v) or "-",
            round(seconds * 1000),
        )

    handle.__name__ = handle.__qualname__ = f"on_{group.replace('-', '_')}"
    router.subscriber(
        *topic_names,
        group_id=f"{settings.group_prefix}.{group}",
        batch=True,
        max_records=settings.batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        title=title,
        description=description,
    )(handle)
