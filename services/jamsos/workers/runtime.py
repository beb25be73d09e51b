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
from faststream.exceptions import StopConsume
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from jamsos.adapters.kafka import FETCH_MAX_BYTES, inbound, raw_records
from jamsos.adapters.metrics import Metrics
from jamsos.adapters.stores import Committed, PostgresUnitOfWork
from jamsos.conditions import Backoff, Conditions
from jamsos.domain.coverage import JAKARTA
from jamsos.faults import Fault
from jamsos.settings import Settings
from jamsos.usecases.deadletters import oversized, quarantine, refuse_oversized
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, DeadLetterError
from jamsos.workers.recovery import rewind

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
    conditions: Conditions = field(default_factory=Conditions)
    fault: Fault = field(default_factory=Fault)  # crash tests only: see jamsos/faults.py
    failures: dict[str, int] = field(default_factory=dict)  # batches failed in a row, by part
    _pool: asyncpg.Pool | None = field(default=None, repr=False)
    # publishes what a transaction committed to the outbox, right after the commit
    publish: Committed | None = field(default=None, repr=False)

    @property
    def backoff(self) -> Backoff:
        """The pause between retries, from settings."""
        return Backoff(self.settings.retry_initial_seconds, self.settings.retry_max_seconds)

    @property
    def pool(self) -> asyncpg.Pool:
        """The database pool; only valid while the app runs."""
        if self._pool is None:
            raise RuntimeError("the database pool is not open")
        return self._pool

    @property
    def uow(self) -> PostgresUnitOfWork:
        """Transactions on the pool, for the use cases."""
        return PostgresUnitOfWork(self.pool, self.publish)

    def open(self, pool: asyncpg.Pool) -> None:
        """Attach the pool opened at startup."""
        self._pool = pool

    async def close(self) -> None:
        """Close the pool, if startup got as far as opening it."""
        if self._pool is not None:
            await self._pool.close()


# Errors that one record can cause (bad data, an impossible row): they would fail the batch
# forever, so the batch is decided record by record and the one that fails is quarantined.
# Use cases turn the bad input they know of into dead letters themselves (every decoder reads
# with usecases.reading and pydantic, whose errors it routes), so a bare ValueError here would
# be a bug of ours and is not caught; this is the backstop for what the database refuses.
POISON = (asyncpg.DataError, asyncpg.ProgramLimitExceededError, RecursionError)
# Errors of the infrastructure: waited out (the batch is retried until it commits).
OUTAGE = (
    OSError,  # includes TimeoutError and ConnectionRefusedError
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # a connection lost mid-transaction
    # a pooled connection whose server went away in the middle of a query ("cannot switch
    # to state …"): seen when PostgreSQL stops under load; the retry takes a fresh connection
    asyncpg.InternalClientError,
    asyncpg.OperatorInterventionError,  # the server shutting down or starting up
)


class Halted(Exception):
    """Too much of a batch failed record by record: the consumer stops (a bug must not drain
    a topic into the DLQ)."""


Decide = Callable[[Sequence[Message]], Awaitable[BatchSummary]]


async def _decide_one(decide: Decide, record: Message) -> BatchSummary | BaseException:
    """Decide one record; the poison error it raised is returned, anything else raised.

    An integrity error is a duplicate only when the record's identity row exists (the
    eventsourcing rule, STYLE.md): the use case is run once more, and finding its identity row
    it changes nothing. If the row is not there the error comes again and is raised: an
    integrity error is never quarantined."""
    try:
        return await decide([record])
    except asyncpg.IntegrityConstraintViolationError:
        return await decide([record])
    except POISON as error:
        return error


async def process(
    runtime: Runtime, batch: Sequence[Message], decide: Decide, what: str
) -> BatchSummary:
    """Decide a batch. An outage is raised (the caller waits it out). On an error one record
    can cause, decide the records one by one and quarantine the failing ones in the DLQ, so
    that a poison message neither blocks its partition nor disappears; unless more than
    `poison_max_share` of the batch (and more than one record) fails: then `Halted`.

    What each transaction committed is counted in the metrics right after its commit (so a
    redelivered batch, which commits nothing new, counts nothing); returns the whole batch's.
    """
    try:
        summary = await decide(batch)
    except (*POISON, asyncpg.IntegrityConstraintViolationError) as error:
        log.warning("%s: %s; deciding its %d records one by one", what, error, len(batch))
        merged = BatchSummary(received=len(batch))
        failed: list[tuple[Message, BaseException]] = []
        for record in batch:
            one = await _decide_one(decide, record)
            if isinstance(one, BaseException):
                failed.append((record, one))
                continue
            runtime.metrics.committed(one.outcomes, one.reasons, one.dead_letters)
            merged.add(one)
        share = runtime.settings.poison_max_share
        if len(failed) > 1 and len(failed) > share * len(batch):
            first = failed[0][1]
            raise Halted(
                f"{len(failed)} of {len(batch)} records of a batch failed"
                f" ({type(first).__name__}: {first}), more than JAMSOS_POISON_MAX_SHARE={share}:"
                " a bug, not bad data; fix it and restart (nothing was dead-lettered)"
            ) from first
        for record, failure in failed:
            log.error(
                "%s: %s[%d]@%d failed: %s; quarantined in the DLQ",
                what,
                record.topic,
                record.partition,
                record.offset,
                failure,
            )
            reason = DeadLetterError.PROCESSING_FAILED.of(f"{type(failure).__name__}: {failure}")
            await quarantine(runtime.uow, record, reason, runtime.clock())
            one = BatchSummary(received=1)
            one.dead_lettered([reason])
            runtime.metrics.committed(one.outcomes, one.reasons, one.dead_letters)
            merged.add(one)
        return merged
    runtime.metrics.committed(summary.outcomes, summary.reasons, summary.dead_letters)
    return summary


def describe(error: BaseException) -> str:
    """An error as `Type: message` (one line)."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def until_committed(
    runtime: Runtime, batch: Sequence[Message], decide: Decide, what: str
) -> BatchSummary:
    """`process` the batch, waiting out outages: while the database is unreachable the same
    batch is retried (no new record is taken) with backoff, and `what` is reported unhealthy.
    Any other failure is reported and raised after a pause (the batch is then redelivered)."""
    conditions, backoff = runtime.conditions, runtime.backoff
    attempt = 0
    while True:
        try:
            summary = await process(runtime, batch, decide, what)
        except OUTAGE as error:
            conditions.fail(what, f"database unreachable ({describe(error)})")
            await asyncio.sleep(backoff.delay(attempt))
            attempt += 1
            continue
        except Halted as error:
            conditions.stop(what, str(error))
            raise StopConsume from error
        except Exception as error:  # reported and re-raised: the batch is redelivered
            conditions.fail(what, f"batch failed ({describe(error)})")
            await asyncio.sleep(backoff.delay(runtime.failures.get(what, 0)))
            runtime.failures[what] = runtime.failures.get(what, 0) + 1
            raise
        runtime.failures.pop(what, None)
        conditions.recover(what)
        return summary


def consume(
    router: KafkaRouter,
    runtime: Runtime,
    *topic_names: str,
    group: str,
    decide: Decide,
    title: str,
    description: str,
    max_records: int | None = None,
) -> None:
    """Subscribe `decide` (a use case bound to its dependencies) to `topic_names` as consumer
    group `<prefix>.<group>`, batches of up to `max_records` (default: the batch size).

    Batches of raw records (decoding is the use case's job, so unreadable bytes become a dead
    letter rather than a decode error redelivered forever); the offset is committed only after
    the use case's transaction. Outages are waited out inside the handler; on any other error
    the handler seeks the batch back on every partition itself (`recovery.rewind`) and raises,
    and NACK_ON_ERROR makes FastStream skip the commit.
    Each batch is timed, counted and logged in one INFO line.
    """
    settings = runtime.settings
    metrics = runtime.metrics

    def refuse(records: Sequence[Message]) -> Awaitable[BatchSummary]:
        limit = settings.max_message_bytes
        return refuse_oversized(runtime.uow, records, limit, runtime.clock())

    async def handle(records: Any, message: KafkaMessage) -> None:
        whole = inbound(records)
        metrics.taken(whole)
        started = time.perf_counter()
        try:
            # Records above JAMSOS_MAX_MESSAGE_BYTES never reach the use case: MESSAGE_TOO_LARGE.
            batch, too_large = oversized(whole, settings.max_message_bytes)
            summary = BatchSummary(received=len(batch) + len(too_large))
            if too_large:
                summary.add(await until_committed(runtime, too_large, refuse, group))
            if runtime.fault.wants("consume.mid-batch", group) and len(batch) > 1:
                await until_committed(runtime, batch[: len(batch) // 2], decide, group)
                runtime.fault.reach("consume.mid-batch", group)
            if batch:
                summary.add(await until_committed(runtime, batch, decide, group))
            runtime.fault.reach("consume.after-commit", group)
        except BaseException:
            # Before the library's nack: every partition of the whole batch goes back, the
            # oversized records' too (recovery.py).
            rewind(message.consumer, whole)
            raise
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
        max_records=max_records or settings.batch_size,
        fetch_max_bytes=FETCH_MAX_BYTES,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        title=title,
        description=description,
    )(handle)
