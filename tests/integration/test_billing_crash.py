"""A billing process killed (SIGKILL) while it is provably inside a run's transaction, with
three runs of one month in flight: one REGULAR invoice, every participant charged once,
reconciliation clean."""

from __future__ import annotations

import asyncio
from collections import Counter

import asyncpg
import pytest

from jamsos.adapters import accrual
from jamsos.domain.period import Period
from jamsos.publishing import publish_model, publish_submissions
from jamsos.settings import Settings
from jamsos.workers.runtime import Runtime
from jamsos_schemas import topics
from jamsos_schemas.billing import BillingRunRequestedV1
from tests.conftest import ServiceProcesses, running, wait_until
from tests.integration.billing_support import JAN_20, Clock, workers
from tests.integration.test_billing_flow import assert_reconciled

pytestmark = pytest.mark.integration

COHORT = {"DISDAG": 140, "DISHUB": 130, "BPBD": 130}
WORKERS = sum(COHORT.values())
# Enrolled on 20 January 2025 (the services' clock): covered from 1 February, the contract's
# default rule, so February 2025 is the first month charged.
PERIOD = "2025-02"


async def waiting_for_period_lock(pool: asyncpg.Pool, period: Period) -> int:
    """Backends of this database inside a transaction, waiting for the period's billing lock."""
    n: int = await pool.fetchval(
        """
        SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
        WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objid = $1 AND l.objsubid = 2
          AND a.datname = current_database() AND a.xact_start IS NOT NULL
        """,
        period.year * 100 + period.month,
    )
    return n


async def test_billing_killed_inside_a_run_transaction_charges_each_participant_once(
    settings: Settings, pool: asyncpg.Pool, processes: ServiceProcesses
) -> None:
    payloads = workers(COHORT, JAN_20)
    period = Period(2025, 2)
    async with running(
        settings, ["registration", "verification"], Runtime(settings, Clock(JAN_20))
    ):
        processes.start(settings, "billing")
        await publish_submissions(settings, payloads)

        async def in_ledger() -> bool:
            n = await pool.fetchval("SELECT count(*) FROM coverage WHERE payer_code IS NOT NULL")
            return bool(n == WORKERS)

        await wait_until(in_ledger, timeout=120, what="every enrolment in the billing ledger")
        requests = [
            BillingRunRequestedV1(request_id=f"kill-{n}", period=PERIOD, requested_at=JAN_20)
            for n in range(3)
        ]
        async with pool.acquire() as holder, holder.transaction():
            # The test holds the period's lock: the first run waits for it inside its transaction
            # (its run row written, not committed) until the process is killed there.
            await accrual.lock_period(holder, period)
            await asyncio.gather(
                *(
                    publish_model(settings, topics.BILLING_RUN_REQUESTED, PERIOD, r)
                    for r in requests
                )
            )

            async def run_inside_transaction() -> bool:
                return await waiting_for_period_lock(pool, period) == 1

            await wait_until(run_inside_transaction, timeout=120, what="a run waiting for the lock")
            processes.kill(0)
            assert await pool.fetchval("SELECT count(*) FROM billing_runs") == 0
            assert await pool.fetchval("SELECT count(*) FROM invoices") == 0
        processes.start(settings, "billing")

        async def all_runs_and_events_out() -> bool:
            runs = await pool.fetchval("SELECT count(*) FROM billing_runs")
            unpublished = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return bool(runs == 3 and unpublished == 0)

        await wait_until(all_runs_and_events_out, timeout=180, what="all three runs")
    kinds = await pool.fetch("SELECT invoice_no, kind, amount FROM invoices ORDER BY invoice_no")
    assert [(r["invoice_no"], r["kind"]) for r in kinds] == [
        ("JMS-PEMKAB-KUDUS-202502-01", "REGULAR")
    ]
    # The contract's rule: participants × 16,800 per agency.
    assert kinds[0]["amount"] == WORKERS * 16_800
    lines = await pool.fetch("SELECT agency_code, participants, amount FROM invoice_lines")
    assert {r["agency_code"]: (r["participants"], r["amount"]) for r in lines} == {
        agency: (n, n * 16_800) for agency, n in Counter(p["agency_code"] for p in payloads).items()
    }
    assert await pool.fetchval("SELECT count(*) FROM charges") == WORKERS
    await assert_reconciled(settings)
