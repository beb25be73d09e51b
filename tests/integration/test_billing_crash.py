"""A billing process killed (SIGKILL) while three runs of one month are in flight: one REGULAR
invoice, every participant charged once, reconciliation clean."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from jamsos import synthetic
from jamsos.domain.coverage import coverage_start
from jamsos.domain.period import Period
from jamsos.publishing import publish_model, publish_submissions
from jamsos.settings import Settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics
from jamsos_schemas.billing import BillingRunRequestedV1
from tests.conftest import ServiceProcesses, running, wait_until
from tests.integration.test_billing_flow import assert_reconciled

pytestmark = pytest.mark.integration

WORKERS = 400


async def test_billing_killed_between_runs_of_one_month_charges_each_participant_once(
    settings: Settings, pool: asyncpg.Pool, processes: ServiceProcesses
) -> None:
    now = jakarta_now()
    rng = random.Random(5)
    agencies = ["DISDAG", "DISHUB", "BPBD"]
    payloads = [
        synthetic.submission(
            agencies[i % 3], f"KILL-{i:04d}", synthetic.worker(rng, i, now.date()), now
        )
        for i in range(WORKERS)
    ]
    period = Period.of(coverage_start(now, settings.policy.coverage_start_rule))
    async with running(settings, ["registration", "verification"]):
        processes.start(settings, "billing")
        await publish_submissions(settings, payloads)

        async def in_ledger() -> bool:
            n = await pool.fetchval("SELECT count(*) FROM coverage WHERE payer_code IS NOT NULL")
            return bool(n == WORKERS)

        await wait_until(in_ledger, timeout=120, what="every enrolment in the billing ledger")
        requests = [
            BillingRunRequestedV1(request_id=f"kill-{n}", period=str(period), requested_at=now)
            for n in range(3)
        ]
        await asyncio.gather(
            *(
                publish_model(settings, topics.BILLING_RUN_REQUESTED, str(period), r)
                for r in requests
            )
        )

        async def first_run_recorded() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM billing_runs"))

        await wait_until(first_run_recorded, timeout=120, what="the first billing run")
        processes.kill(0)
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
        (f"JMS-PEMKAB-KUDUS-{period.compact}-01", "REGULAR")
    ]
    assert kinds[0]["amount"] == WORKERS * 16_800
    assert await pool.fetchval("SELECT count(*) FROM charges") == WORKERS
    await assert_reconciled(settings)
