"""A record that makes its batch fail with a data error is quarantined; the rest go through."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg
import pytest

from jamsos.settings import load_settings
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary
from jamsos.workers.runtime import Runtime, process

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
