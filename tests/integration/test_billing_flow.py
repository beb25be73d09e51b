"""Billing end to end through the real services (registration, verification, billing) on
PostgreSQL and tansu: invoices to the Rupiah, re-runs, restarts, late enrolments, credits."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from jamsos import billing_requests
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.period import Period
from jamsos.publishing import publish_model, publish_submissions
from jamsos.settings import Settings
from jamsos.usecases.billing import run_billing
from jamsos.usecases.messages import Message
from jamsos.workers.runtime import Runtime
from jamsos_schemas import topics
from jamsos_schemas.billing import BillingRunRequestedV1
from jamsos_schemas.participant import ParticipantTerminationRequestedV1, TerminationReason
from tests.conftest import read_topic, running, wait_until
from tests.integration.billing_support import (
    AGENCY_FUNDING,
    JAN_20,
    Clock,
    cli,
    cli_process,
    invoices,
    uncredited,
    workers,
)

pytestmark = pytest.mark.integration

SERVICES = ["registration", "verification", "billing"]
# Five agencies, both funding sources (DBHCHT: DISDAG, DISNAKERPERINKOP; APBD: the others).
COHORT = {"DISDAG": 9, "DISHUB": 7, "BPBD": 4, "DINSOS": 6, "DISNAKERPERINKOP": 5}
FEB = Period(2025, 2)
MAR = Period(2025, 3)


async def enrol_through_services(
    settings: Settings, pool: asyncpg.Pool, payloads: list[dict[str, Any]]
) -> None:
    """Publish submissions and wait until the billing ledger holds every enrolment."""
    before = await pool.fetchval("SELECT count(*) FROM coverage")
    await publish_submissions(settings, payloads)

    async def in_ledger() -> bool:
        n = await pool.fetchval("SELECT count(*) FROM coverage WHERE payer_code IS NOT NULL")
        return bool(n == before + len(payloads))

    await wait_until(in_ledger, what="enrolments in the billing ledger")


async def assert_reconciled(settings: Settings) -> None:
    result = await cli(settings, "reconcile")
    assert result.exit_code == 0, result.output
    assert "reconciled" in result.output


async def test_billing_invoice_matches_independent_calculation_per_agency_to_the_rupiah(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    payloads = workers(COHORT, JAN_20)
    async with running(settings, SERVICES, Runtime(settings, clock=Clock(JAN_20))):
        await enrol_through_services(settings, pool, payloads)
        result = await cli_process(settings, "bill", "2025-02")
        assert result.exit_code == 0, result.output
        assert "JMS-PEMKAB-KUDUS-202502-01" in result.output

        async def published() -> list[dict[str, Any]]:
            return await read_topic(settings.kafka_bootstrap or "", topics.INVOICE_ISSUED)

        copies = await wait_until(published, what="the invoice on Kafka")
    assert len({c["event_id"] for c in copies}) == 1  # re-sends (at-least-once) share it
    invoice = copies[0]
    # Independent calculation: participants × 16,800 per agency, from what was submitted.
    per_agency = Counter(p["agency_code"] for p in payloads)
    assert {
        line["agency_code"]: (
            line["funding_source"],
            line["participants"],
            line["jkk"],
            line["jkm"],
            line["amount"],
        )
        for line in invoice["lines"]
    } == {
        agency: (AGENCY_FUNDING[agency], n, n * 10_000, n * 6_800, n * 16_800)
        for agency, n in per_agency.items()
    }
    n = len(payloads)
    assert invoice["totals"] == {
        "participants": n,
        "jkk": n * 10_000,
        "jkm": n * 6_800,
        "amount": n * 16_800,
    }
    assert (invoice["kind"], invoice["period"], invoice["currency"]) == (
        "REGULAR",
        "2025-02",
        "IDR",
    )
    by_funding = Counter[str]()
    for line in invoice["lines"]:
        by_funding[line["funding_source"]] += line["amount"]
    assert by_funding == {"DBHCHT": (9 + 5) * 16_800, "APBD": (7 + 4 + 6) * 16_800}
    await assert_reconciled(settings)


async def test_billing_month_three_times_concurrently_and_across_restart_issues_one_regular(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    payloads = workers(COHORT, JAN_20)
    runtime = Runtime(settings, clock=Clock(JAN_20))
    async with running(settings, SERVICES, runtime):
        await enrol_through_services(settings, pool, payloads)
        await asyncio.gather(*(billing_requests.bill(settings, pool, FEB) for _ in range(2)))
    # The billing service is down. A third request arrives; the previous instance had
    # committed it but died before committing the Kafka offset, so it is delivered again.
    third = BillingRunRequestedV1(request_id="third", period="2025-02", requested_at=JAN_20)
    await publish_model(settings, topics.BILLING_RUN_REQUESTED, "2025-02", third)
    committed = Message(
        topics.BILLING_RUN_REQUESTED, 0, 0, b"2025-02", third.model_dump_json().encode()
    )
    assert (await run_billing(PostgresUnitOfWork(pool), [committed], JAN_20)).counts == {
        "NOTHING_NEW": 1
    }
    async with running(settings, ["billing"], Runtime(settings, clock=Clock(JAN_20))):

        async def third_redelivered() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM billing_runs") == 3)

        await wait_until(third_redelivered, what="the three runs")
        again = await billing_requests.bill(settings, pool, FEB)
        assert again.outcome == "DONE" and again.invoices == []
        issued = await read_topic(settings.kafka_bootstrap or "", topics.INVOICE_ISSUED)
    assert [(i["invoice_no"], i["kind"]) for i in await invoices(pool)] == [
        ("JMS-PEMKAB-KUDUS-202502-01", "REGULAR")
    ]
    assert await pool.fetchval("SELECT count(*) FROM charges") == len(payloads)
    # At-least-once: a relay stopped between send and mark re-sends the same event_id.
    assert {(i["event_id"], i["invoice_no"]) for i in issued} == {
        (issued[0]["event_id"], "JMS-PEMKAB-KUDUS-202502-01")
    }
    await assert_reconciled(settings)


async def test_late_enrolment_and_backdated_termination_yield_supplementary_and_credit(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    payloads = workers(COHORT, JAN_20)
    clock = Clock(JAN_20)
    async with running(settings, SERVICES, Runtime(settings, clock=clock)):
        await enrol_through_services(settings, pool, payloads)
        await billing_requests.bill(settings, pool, FEB)

        clock.now = dt.datetime(2025, 1, 27, 9, 0, tzinfo=JAKARTA)  # late, still from 1 Feb
        [late] = workers({"DINSOS": 1}, clock.now, seed=11)
        await enrol_through_services(settings, pool, [late])
        supplementary = await billing_requests.bill(settings, pool, FEB)
        assert [(i.kind, i.participants, i.amount) for i in supplementary.invoices] == [
            ("SUPPLEMENTARY", 1, 16_800)
        ]
        late_line = await pool.fetchrow(
            "SELECT nik, invoice_no FROM charges WHERE invoice_no LIKE '%-02'"
        )
        assert late_line is not None and late_line["nik"] == late["worker"]["nik"]

        clock.now = dt.datetime(2025, 3, 3, 9, 0, tzinfo=JAKARTA)
        await billing_requests.bill(settings, pool, MAR)
        leaver = payloads[0]
        request = ParticipantTerminationRequestedV1(
            request_id="DISDAG-T-1",
            agency_code=leaver["agency_code"],
            nik=leaver["worker"]["nik"],
            reason=TerminationReason.MOVED_OUT,
            effective_date=dt.date(2025, 2, 20),
        )
        await billing_requests.terminate(settings, pool, [request])
        await billing_requests.wait_ledger(pool)
        credit = await billing_requests.bill(settings, pool, MAR)
        feb_again = await billing_requests.bill(settings, pool, FEB)
    assert [(i.invoice_no, i.kind, i.participants, i.amount) for i in credit.invoices] == [
        ("JMS-PEMKAB-KUDUS-202503-02", "CREDIT", -1, -16_800)
    ]
    assert feb_again.invoices == []  # covered all of February: still charged
    n = len(payloads) + 1
    assert await uncredited(pool, "2025-02") == n
    assert await uncredited(pool, "2025-03") == n - 1
    await assert_reconciled(settings)


async def test_reconcile_after_services_settle_passes_with_quota_rejections_and_duplicates(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    agencies = tuple(
        replace(a, quota=2 if a.code == "BPBD" else a.quota) for a in settings.policy.agencies
    )
    settings = replace(settings, policy=replace(settings.policy, agencies=agencies))
    payloads = workers({"BPBD": 4, "DISHUB": 3}, JAN_20)
    duplicate = {**payloads[-1], "agency_code": "DINSOS", "submission_id": "DINSOS-DUP"}
    async with running(settings, SERVICES, Runtime(settings, clock=Clock(JAN_20))):
        await publish_submissions(settings, [*payloads, duplicate])

        async def decided() -> bool:
            return bool(
                await pool.fetchval(
                    "SELECT count(*) FILTER (WHERE status <> 'RECEIVED') FROM submissions"
                )
                == 8
            )

        await wait_until(decided, what="every outcome")
        await billing_requests.wait_ledger(pool)
        await billing_requests.bill(settings, pool, FEB)
    assert [i["participants"] for i in await invoices(pool)] == [5]
    await assert_reconciled(settings)
