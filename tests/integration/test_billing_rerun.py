"""Re-running a billed period: the ledger's change counters (migration 0007) tell an unchanged
ledger without a scan, and any write to coverage or charges, by whatever path, is seen."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from jamsos.settings import load_settings
from tests.integration.billing_support import (
    JAN_20,
    bill,
    enrol,
    feed_ledger,
    invoices,
    uncredited,
    workers,
)

pytestmark = pytest.mark.integration

COHORT = {"DISDAG": 2, "DISHUB": 2}


async def billed_cohort(pool: asyncpg.Pool, tmp_path: Any) -> None:
    await enrol(pool, load_settings(env={}, cwd=tmp_path), workers(COHORT, JAN_20), JAN_20)
    await feed_ledger(pool, JAN_20)
    await bill(pool, "2025-02")


async def insert_coverage(conn: asyncpg.Connection | asyncpg.Pool, membership_no: str) -> None:
    await conn.execute(
        "INSERT INTO coverage (membership_no, coverage_start, nik, agency_code, payer_code,"
        " funding_source, enrolled_at) VALUES ($1, '2025-01-01', '3319010101900009', 'DISDAG',"
        " 'PEMKAB-KUDUS', 'DBHCHT', $2)",
        membership_no,
        JAN_20,
    )


def kinds(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(r["kind"], r["participants"]) for r in rows]


async def test_rerun_after_coverage_written_outside_the_ledger_use_case_charges_it(
    pool: asyncpg.Pool, tmp_path: Any
) -> None:
    await billed_cohort(pool, tmp_path)
    await insert_coverage(pool, "KDS-DIRECT-01")
    await bill(pool, "2025-02", JAN_20 + dt.timedelta(days=1))
    assert kinds(await invoices(pool, "2025-02")) == [("REGULAR", 4), ("SUPPLEMENTARY", 1)]


async def test_rerun_after_a_charge_is_deleted_charges_that_participant_again(
    pool: asyncpg.Pool, tmp_path: Any
) -> None:
    await billed_cohort(pool, tmp_path)
    await pool.execute("DELETE FROM charges WHERE charge_id = (SELECT max(charge_id) FROM charges)")
    await bill(pool, "2025-02", JAN_20 + dt.timedelta(days=1))
    assert kinds(await invoices(pool, "2025-02")) == [("REGULAR", 4), ("SUPPLEMENTARY", 1)]
    assert await uncredited(pool, "2025-02") == 4


async def test_rerun_with_unchanged_counters_skips_the_scan_until_the_next_counted_write(
    pool: asyncpg.Pool, tmp_path: Any
) -> None:
    await billed_cohort(pool, tmp_path)
    async with pool.acquire() as conn:  # a write the counters cannot see: triggers are off
        await conn.execute("SET session_replication_role = replica")
        await insert_coverage(conn, "KDS-UNSEEN-01")
        await conn.execute("RESET session_replication_role")
    await bill(pool, "2025-02", JAN_20 + dt.timedelta(days=1))
    assert kinds(await invoices(pool, "2025-02")) == [("REGULAR", 4)]  # decided by counters

    await insert_coverage(pool, "KDS-DIRECT-02")
    await bill(pool, "2025-02", JAN_20 + dt.timedelta(days=2))
    assert kinds(await invoices(pool, "2025-02")) == [("REGULAR", 4), ("SUPPLEMENTARY", 2)]
