"""The billing part of `jamsos demo`: two consecutive months, with a backdated termination,
a termination within the first month and a late enrolment in between, then reconciliation."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time

import asyncpg

from jamsos import billing_requests, synthetic
from jamsos.adapters import db, demo_queries, invoice_documents, invoices
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.billing_requests import RunResult
from jamsos.cli.common import console
from jamsos.cli.invoice_tables import invoice_table
from jamsos.cli.reconcile_tables import print_reconciliation
from jamsos.domain.coverage import coverage_start
from jamsos.domain.period import Period
from jamsos.publishing import publish_submissions
from jamsos.settings import Settings
from jamsos.usecases.reconciliation import reconcile
from jamsos.workers.runtime import Runtime, jakarta_now
from jamsos_schemas.participant import ParticipantTerminationRequestedV1, TerminationReason


def _print_run(label: str, result: RunResult) -> None:
    if result.invoices:
        console.print(invoice_table(result.invoices, label))
    else:
        console.print(f"{label}: nothing new to invoice", highlight=False)
    console.print(f"  (run {result.request_id}: {result.seconds:.2f}s)", highlight=False)


async def _late_enrolment(settings: Settings, pool: asyncpg.Pool, now: dt.datetime) -> str:
    person = synthetic.worker(random.Random(99), 9_998, now.date())
    payload = synthetic.submission("DINSOS", "DINSOS-DEMO-LATE-00001", person, now)
    await publish_submissions(settings, [payload])
    deadline = time.monotonic() + 60
    while True:
        async with pool.acquire() as conn:
            if await demo_queries.submission_decided(conn, "DINSOS", payload["submission_id"]):
                return str(person["nik"])
        if time.monotonic() > deadline:
            raise TimeoutError("the late enrolment was not decided in time")
        await asyncio.sleep(0.05)


async def bill_demo_months(settings: Settings, runtime: Runtime) -> None:
    """Bill two consecutive months with a termination and a late enrolment in between."""
    pool = runtime.pool
    now = jakarta_now()
    first = Period.of(coverage_start(now, settings.policy.coverage_start_rule))
    second = first.next()
    await billing_requests.wait_ledger(pool)
    async with pool.acquire() as conn:
        covered = await demo_queries.covered_count(conn)

    result = await billing_requests.bill(settings, pool, first)
    console.print(
        f"billed {first} for {covered:,} participants in {result.seconds:.2f}s"
        " (request published → invoices committed)",
        highlight=False,
    )
    _print_run(f"{first}: first run", result)
    _print_run(
        f"{first}: run again, unchanged",
        await billing_requests.bill(settings, pool, first),
    )

    async with pool.acquire() as conn:
        (deceased_nik, _), (moved_nik, moved_agency) = await demo_queries.active_participants(
            conn, 2
        )
    requests = [
        ParticipantTerminationRequestedV1(  # backdated: died before the billed month began
            request_id="DEMO-T-0001",
            agency_code="DINSOS",
            nik=deceased_nik,
            reason=TerminationReason.DECEASED,
            effective_date=first.first_day - dt.timedelta(1),
        ),
        ParticipantTerminationRequestedV1(  # covered all of the first month, not the second
            request_id="DEMO-T-0002",
            agency_code=moved_agency,
            nik=moved_nik,
            reason=TerminationReason.MOVED_OUT,
            effective_date=first.first_day + dt.timedelta(9),
        ),
    ]
    await billing_requests.terminate(settings, pool, requests)
    late_nik = await _late_enrolment(settings, pool, now)
    await billing_requests.wait_ledger(pool)
    console.print(
        f"terminated {deceased_nik} (DECEASED, effective {requests[0].effective_date}) and"
        f" {moved_nik} (MOVED_OUT, effective {requests[1].effective_date});"
        f" late enrolment {late_nik} (covered from {first.first_day})",
        highlight=False,
    )
    _print_run(
        f"{first}: run after the changes",
        await billing_requests.bill(settings, pool, first),
    )
    _print_run(f"{second}: first run", await billing_requests.bill(settings, pool, second))

    async with pool.acquire() as conn:
        everything = await invoices.list_invoices(conn)
        console.print(invoice_table(everything, "All invoices"))
        out = settings.state_dir / "invoices"
        out.mkdir(parents=True, exist_ok=True)
        for row in everything:
            await invoice_documents.export_invoice(conn, row.invoice_no, settings.letterhead, out)
    console.print(f"invoices exported (PDF + XLSX + CSV) to {out}", highlight=False)


async def reconcile_exit_code(settings: Settings) -> int:
    """0 when reconciliation finds nothing wrong."""
    assert settings.database_url is not None
    pool = await db.create_pool(settings.database_url, max_size=2)
    try:
        result = await reconcile(
            PostgresUnitOfWork(pool), None, jakarta_now(), dt.timedelta(minutes=60)
        )
    finally:
        await pool.close()
    print_reconciliation(result)
    return 1 if result.mismatches else 0
