"""A record that makes its batch fail with a data error is quarantined; the rest go through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.policy import Policy
from jamsos.settings import load_settings
from jamsos.usecases.billing import record_coverage, run_billing
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary
from jamsos.usecases.registration import register
from jamsos.usecases.review import decide_reviews
from jamsos.usecases.termination import terminate
from jamsos.usecases.verification import verify
from jamsos.workers.runtime import Halted, Runtime, jakarta_now, process
from jamsos_schemas import topics

pytestmark = pytest.mark.integration


async def test_poison_record_is_quarantined_and_the_others_are_decided(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    runtime = Runtime(load_settings(env={}, cwd=tmp_path))
    runtime.open(pool)
    await pool.execute("CREATE TABLE decided (value text PRIMARY KEY)")

    async def decide(batch: Sequence[Message]) -> BatchSummary:
        async with pool.acquire() as conn, conn.transaction():
            for record in batch:
                # a numeric cast that fails for one value, as bad data would
                await conn.execute(
                    "INSERT INTO decided SELECT $1::text WHERE $1::text::numeric IS NOT NULL",
                    record.value.decode(),
                )
        return BatchSummary(received=len(batch), new=len(batch))

    batch = [Message("t", 0, n, None, v) for n, v in enumerate([b"1", b"2", b"oops", b"4"])]
    summary = await process(runtime, batch, decide, "test")

    assert (summary.new, summary.counts) == (3, {"DLQ": 1})
    dead = {"error": "PROCESSING_FAILED"}
    assert runtime.metrics.registry.get_sample_value("jamsos_dead_letters_total", dead) == 1
    assert {r["value"] for r in await pool.fetch("SELECT value FROM decided")} == {"1", "2", "4"}
    [letter] = await pool.fetch('SELECT value, error, "offset" FROM dead_letters')
    assert bytes(letter["value"]) == b"oops" and letter["offset"] == 2
    assert letter["error"].startswith("PROCESSING_FAILED: InvalidTextRepresentationError")
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'jamsos.dlq.v1'") == 1


async def test_outage_is_raised_for_redelivery_not_quarantined(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    runtime = Runtime(load_settings(env={}, cwd=tmp_path))
    runtime.open(pool)

    async def decide(batch: Sequence[Message]) -> BatchSummary:
        raise ConnectionRefusedError("database down")

    with pytest.raises(ConnectionRefusedError):
        await process(runtime, [Message("t", 0, 0, None, b"x")], decide, "test")
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


def _runtime(pool: asyncpg.Pool, tmp_path: Path, **changes: object) -> Runtime:
    settings = replace(load_settings(env={}, cwd=tmp_path), **changes)  # type: ignore[arg-type]
    runtime = Runtime(settings)
    runtime.open(pool)
    return runtime


async def test_integrity_error_without_identity_row_is_raised_not_quarantined(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    runtime = _runtime(pool, tmp_path)
    await pool.execute("CREATE TABLE decided (value text PRIMARY KEY CHECK (value <> 'bad'))")

    async def decide(batch: Sequence[Message]) -> BatchSummary:
        async with pool.acquire() as conn, conn.transaction():
            for record in batch:
                await conn.execute("INSERT INTO decided VALUES ($1)", record.value.decode())
        return BatchSummary(received=len(batch), new=len(batch))

    batch = [Message("t", 0, n, None, v) for n, v in enumerate([b"1", b"bad", b"3"])]
    with pytest.raises(asyncpg.CheckViolationError):
        await process(runtime, batch, decide, "test")
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_integrity_error_of_a_concurrent_duplicate_changes_nothing_more(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """The identity row committed by another process between our check and our insert: the
    record is a duplicate (decided once, by the other), not a dead letter."""
    runtime = _runtime(pool, tmp_path)
    await pool.execute("CREATE TABLE decided (value text PRIMARY KEY)")
    raced: list[str] = []

    async def decide(batch: Sequence[Message]) -> BatchSummary:
        summary = BatchSummary(received=len(batch))
        async with pool.acquire() as conn, conn.transaction():
            for record in batch:
                value = record.value.decode()
                if await conn.fetchval("SELECT 1 FROM decided WHERE value = $1", value):
                    summary.repeated += 1
                    continue
                if not raced:  # the other process commits the same identity just now
                    raced.append(value)
                    await pool.execute("INSERT INTO decided VALUES ($1)", value)
                await conn.execute("INSERT INTO decided VALUES ($1)", value)
                summary.new += 1
        return summary

    summary = await process(runtime, [Message("t", 0, 0, None, b"1")], decide, "test")
    assert (summary.new, summary.repeated) == (0, 1)
    assert await pool.fetchval("SELECT count(*) FROM decided") == 1
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_value_error_of_our_own_code_is_raised_not_quarantined(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    runtime = _runtime(pool, tmp_path)

    async def decide(batch: Sequence[Message]) -> BatchSummary:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await process(runtime, [Message("t", 0, 0, None, b"x")], decide, "test")
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_batch_failing_beyond_the_poison_share_halts_without_dead_letters(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    runtime = _runtime(pool, tmp_path, poison_max_share=0.5)

    async def decide(batch: Sequence[Message]) -> BatchSummary:
        async with pool.acquire() as conn:
            for record in batch:  # a bug: the cast fails for every record but one
                await conn.execute("SELECT $1::text::numeric", record.value.decode())
        return BatchSummary(received=len(batch), new=len(batch))

    batch = [Message("t", 0, n, None, v) for n, v in enumerate([b"a", b"b", b"3", b"c"])]
    with pytest.raises(Halted, match="3 of 4 records"):
        await process(runtime, batch, decide, "test")
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


HOSTILE = [
    b"\xff\xfe not utf-8",
    b"",
    b"[]",
    b'{"truncated": ',
    b"[" * 100_000,
    b'{"event_id": 1, "agency_code": ["x"], "submission_id": {"a": null}}',
    b'{"agency_code": "DISDAG", "submission_id": "S-1", "worker": "\\u0000"}',
]


@pytest.mark.parametrize(
    ("topic", "use_case"),
    [
        (
            topics.SUBMITTED,
            lambda uow, b, now: register(uow, b, Policy(), now),
        ),
        (topics.ACCEPTED, lambda uow, b, now: verify(uow, b, Policy(), now)),
        (
            topics.REVIEW_DECIDED,
            lambda uow, b, now: decide_reviews(uow, b, Policy(), now),
        ),
        (
            topics.TERMINATION_REQUESTED,
            lambda uow, b, now: terminate(uow, b, Policy(), now),
        ),
        (topics.ENROLLED, record_coverage),
        (topics.TERMINATED, record_coverage),
        (topics.BILLING_RUN_REQUESTED, run_billing),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_every_input_topic_turns_hostile_bytes_into_dead_letters_itself(
    pool: asyncpg.Pool, topic: str, use_case: Any
) -> None:
    """Without the runtime's backstop: each decoder routes bad input to the DLQ (so dropping
    ValueError from runtime.POISON loses nothing)."""
    batch = [Message(topic, 0, n, None, value) for n, value in enumerate(HOSTILE)]
    await use_case(PostgresUnitOfWork(pool), batch, jakarta_now())
    offsets = {r["offset"] for r in await pool.fetch('SELECT "offset" FROM dead_letters')}
    assert offsets == set(range(len(HOSTILE)))
