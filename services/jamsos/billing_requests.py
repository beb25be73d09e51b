"""Operator side of billing (CLI, demo): publish run and termination requests, wait for outcomes.

Waiting reads the database, because a run that finds nothing new issues no event at all: the
run's row in `billing_runs` is what says it was processed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from jamsos.adapters import billing_runs, coverage_ledger, invoices, terminations
from jamsos.adapters.invoices import InvoiceRow
from jamsos.domain.period import Period
from jamsos.publishing import publish_model, publish_raw
from jamsos.settings import Settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics
from jamsos_schemas.billing import BillingRunRequestedV1
from jamsos_schemas.participant import ParticipantTerminationRequestedV1


@dataclass(frozen=True)
class RunResult:
    """What one billing run request did."""

    request_id: str
    period: Period
    outcome: str
    detail: str | None
    invoices: list[InvoiceRow]
    seconds: float


async def _wait(
    pool: asyncpg.Pool,
    done: Callable[[asyncpg.Connection], Awaitable[bool]],
    timeout: float,
    what: str,
) -> None:
    """Poll `done` with a deadline (the answer is in the database, not on a topic)."""
    deadline = time.monotonic() + timeout
    while True:
        async with pool.acquire() as conn:
            if await done(conn):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


async def bill(
    settings: Settings,
    pool: asyncpg.Pool,
    period: Period,
    *,
    timeout: float = 120.0,
    request_id: str | None = None,
) -> RunResult:
    """Publish a run request for `period`, wait until the billing service has processed it."""
    request = BillingRunRequestedV1(
        request_id=request_id or f"bill-{period}-{uuid.uuid4().hex[:12]}",
        period=str(period),
        requested_at=jakarta_now(),
    )
    started = time.monotonic()
    await publish_model(settings, topics.BILLING_RUN_REQUESTED, str(period), request)
    await _wait(
        pool,
        lambda conn: billing_runs.run_processed(conn, request.request_id),
        timeout,
        f"billing run {request.request_id}",
    )
    seconds = time.monotonic() - started
    async with pool.acquire() as conn:
        outcome = await billing_runs.run_outcome(conn, request.request_id)
        issued = await invoices.invoices_of_request(conn, request.request_id)
    assert outcome is not None
    return RunResult(request.request_id, period, outcome[0], outcome[1], issued, seconds)


async def terminate(
    settings: Settings,
    pool: asyncpg.Pool,
    requests: Sequence[ParticipantTerminationRequestedV1],
    *,
    timeout: float = 120.0,
) -> None:
    """Publish termination requests (keyed by NIK) and wait until each is processed."""
    await publish_raw(
        settings,
        topics.TERMINATION_REQUESTED,
        [(r.nik.encode(), r.model_dump_json().encode()) for r in requests],
    )
    ids = [r.request_id for r in requests]
    await _wait(
        pool,
        lambda conn: terminations.terminations_processed(conn, ids),
        timeout,
        "termination requests",
    )


async def wait_ledger(pool: asyncpg.Pool, timeout: float = 120.0) -> None:
    """Wait until the billing ledger holds every participant's current coverage."""

    async def caught_up(conn: asyncpg.Connection) -> bool:
        return await coverage_ledger.ledger_behind(conn) == 0

    await _wait(pool, caught_up, timeout, "the billing ledger to catch up")
