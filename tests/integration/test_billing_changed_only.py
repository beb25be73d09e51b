"""A re-run after coverage-only writes looks at the memberships written since the period's
last run (migration 0011): what it charges and credits is the same as a full run's, and a
deletion or a write to charges makes the next run look at every membership."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.settings import load_settings
from jamsos.usecases.billing import record_coverage
from jamsos_schemas import topics
from tests.integration.billing_support import (
    JAN_20,
    bill,
    enrol,
    enrolled_event,
    feed_ledger,
    invoices,
    record,
    terminated_event,
    uncredited,
    workers,
)

pytestmark = pytest.mark.integration

LATER = JAN_20 + dt.timedelta(days=1)


async def billed_cohort(pool: asyncpg.Pool, tmp_path: Any) -> None:
    await enrol(pool, load_settings(env={}, cwd=tmp_path), workers({"DISDAG": 3}, JAN_20), JAN_20)
    await feed_ledger(pool, JAN_20)
    await bill(pool, "2025-02")


def kinds(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["kind"], r["participants"]) for r in rows]


async def first_membership(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT membership_no, coverage_start, nik FROM coverage ORDER BY membership_no LIMIT 1"
    )
    assert row is not None
    return row


async def test_rerun_after_a_late_enrolment_and_a_termination_charges_and_credits_them(
    pool: asyncpg.Pool, tmp_path: Any
) -> None:
    await billed_cohort(pool, tmp_path)
    first = await first_membership(pool)
    events = [
        record(enrolled_event("KDS-LATE-01", "2025-02-01"), topics.ENROLLED),
        record(
            terminated_event(
                first["membership_no"],
                first["coverage_start"].isoformat(),
                "2025-01-31",
                nik=first["nik"],
            ),
            topics.TERMINATED,
        ),
    ]
    await record_coverage(PostgresUnitOfWork(pool), events, LATER)
    await bill(pool, "2025-02", LATER)
    assert kinds(await invoices(pool, "2025-02")) == [
        ("REGULAR", 3),
        ("SUPPLEMENTARY", 1),
        ("CREDIT", -1),
    ]
    assert await uncredited(pool, "2025-02") == 3


async def test_rerun_after_a_coverage_row_is_deleted_credits_its_charge(
    pool: asyncpg.Pool, tmp_path: Any
) -> None:
    await billed_cohort(pool, tmp_path)
    first = await first_membership(pool)
    await pool.execute("DELETE FROM coverage WHERE membership_no = $1", first["membership_no"])
    await bill(pool, "2025-02", LATER)
    assert kinds(await invoices(pool, "2025-02")) == [("REGULAR", 3), ("CREDIT", -1)]
    assert await uncredited(pool, "2025-02") == 2


async def test_rerun_on_a_restored_database_whose_horizon_is_ahead_looks_at_everyone(
    pool: asyncpg.Pool, tmp_path: Any
) -> None:
    """A restored or replicated database counts transactions anew, so the stored horizon can
    be ahead of every new row: trusted, it would hide the late enrolment below."""
    await billed_cohort(pool, tmp_path)
    await pool.execute(
        "UPDATE billed_periods SET horizon = txid_current() + 5000000 WHERE period = '2025-02'"
    )
    late = [record(enrolled_event("KDS-LATE-01", "2025-02-01"), topics.ENROLLED)]
    await record_coverage(PostgresUnitOfWork(pool), late, LATER)
    await bill(pool, "2025-02", LATER)
    assert kinds(await invoices(pool, "2025-02")) == [("REGULAR", 3), ("SUPPLEMENTARY", 1)]
    assert await uncredited(pool, "2025-02") == 4
