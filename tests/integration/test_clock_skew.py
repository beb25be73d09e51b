"""A termination or re-enrolment stamped by a clock running behind still orders after the
participant's previous event, so the billing ledger ends (or reopens) coverage correctly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.settings import Settings, load_settings
from jamsos.usecases.termination import terminate
from jamsos_schemas import topics
from tests.factory import submission
from tests.integration.billing_support import JAN_20, enrol, feed_ledger, record, termination

pytestmark = pytest.mark.integration

BEHIND = JAN_20 - dt.timedelta(hours=1)


@pytest.fixture
def settings_(tmp_path: Path) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


async def coverage_end(pool: asyncpg.Pool) -> dt.date | None:
    value: dt.date | None = await pool.fetchval("SELECT coverage_end FROM coverage")
    return value


async def test_termination_from_a_clock_behind_still_ends_coverage(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await enrol(pool, settings_, [submission()], JAN_20)
    request = termination("3319014506900001", effective_date="2025-03-10")
    await terminate(
        PostgresUnitOfWork(pool),
        [record(request, topics.TERMINATION_REQUESTED)],
        settings_.policy,
        BEHIND,
    )
    await feed_ledger(pool, JAN_20)
    assert await coverage_end(pool) == dt.date(2025, 3, 31)


async def test_reenrolment_from_a_clock_behind_reopens_coverage(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await enrol(pool, settings_, [submission()], JAN_20)
    request = termination("3319014506900001", effective_date="2025-01-10")
    await terminate(
        PostgresUnitOfWork(pool),
        [record(request, topics.TERMINATION_REQUESTED)],
        settings_.policy,
        JAN_20,
    )
    await enrol(pool, settings_, [submission(submission_id="DISDAG-AGAIN")], BEHIND)
    await feed_ledger(pool, JAN_20)
    assert await coverage_end(pool) is None  # the same coverage row (Feb 1) is open again
