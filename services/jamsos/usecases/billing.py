"""Billing: the coverage ledger from participant events, period runs that accrue charges and
issue invoices, payments, and reconciliation.

A billing run is one transaction per request: the run row (the inbox), the period's advisory
lock, one accrual statement, one credit statement, the invoices and their outbox events
commit together. Re-running, re-delivering or racing a run charges nobody twice: the lock
serialises runs of a period and the unique index on uncredited (membership, period) is the
guarantee behind it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from pydantic import ValidationError

from jamsos.adapters import (
    accrual,
    billing_runs,
    coverage_ledger,
    inbox,
    invoices,
    outbox,
    reconciliation,
    repository,
)
from jamsos.adapters.coverage_ledger import Enrolled, Terminated
from jamsos.adapters.kafka import Inbound
from jamsos.adapters.outbox import OutboxEvent
from jamsos.adapters.repository import DeadLetter
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.identity import event_id
from jamsos.domain.invoicing import Invoice, InvoicePlan, PayerHistory, payment_problem
from jamsos.domain.period import Period
from jamsos.domain.reconciliation import (
    AgencyCounts,
    Mismatch,
    PeriodFigures,
    check_agency,
    check_invoices,
    check_ledger,
    check_period,
    periods_to_bill_again,
)
from jamsos.domain.tariff import Tariff, tariff_on
from jamsos.usecases import reading
from jamsos.usecases.deadletters import dead_letter
from jamsos.usecases.reading import field_errors, read_object
from jamsos.usecases.registration import BatchSummary, error_code
from jamsos_schemas import topics
from jamsos_schemas.billing import (
    BillingRunRequestedV1,
    InvoiceIssuedV1,
    InvoiceLine,
    InvoiceTotals,
)
from jamsos_schemas.participant import ParticipantEnrolledV1, ParticipantTerminatedV1

LEDGER = "billing-ledger"


def _schema_error(error: ValidationError) -> str:
    return f"SCHEMA_INVALID: {field_errors(error)}"


# --- coverage ledger ------------------------------------------------------------------------


def _read_participant_event(record: Inbound) -> Enrolled | Terminated | str | None:
    """The ledger change an event carries (None: nothing to record), or a DLQ error."""
    try:
        if record.topic == topics.ENROLLED:
            enrolled = ParticipantEnrolledV1.model_validate_json(record.value)
            return Enrolled(
                membership_no=enrolled.membership_no,
                coverage_start=enrolled.coverage_start,
                nik=enrolled.nik,
                agency_code=enrolled.agency_code,
                payer_code=enrolled.payer_code,
                funding_source=enrolled.funding_source,
                enrolled_at=enrolled.enrolled_at,
            )
        if record.topic == topics.TERMINATED:
            terminated = ParticipantTerminatedV1.model_validate_json(record.value)
        else:
            return f"UNEXPECTED_TOPIC: the billing ledger does not read {record.topic}"
    except ValidationError as error:
        return _schema_error(error)
    if terminated.status == "NOT_FOUND":
        return None
    if (
        terminated.membership_no is None
        or terminated.coverage_start is None
        or terminated.coverage_end is None
    ):
        return "SCHEMA_INVALID: TERMINATED needs membership_no, coverage_start and coverage_end"
    return Terminated(
        membership_no=terminated.membership_no,
        coverage_start=terminated.coverage_start,
        nik=terminated.nik,
        coverage_end=terminated.coverage_end,
        terminated_at=terminated.decided_at,
    )


def _event_id(record: Inbound) -> str | None:
    payload = read_object(record.value)
    value = None if isinstance(payload, str) else payload.get("event_id")
    return value if isinstance(value, str) else None


async def record_coverage(
    pool: asyncpg.Pool, records: Sequence[Inbound], now: dt.datetime
) -> BatchSummary:
    """Apply a batch of enrolled/terminated events to the coverage ledger, once per event_id.

    Events may come twice or out of order: each side of a coverage row keeps its latest
    version by the event's own timestamp (see migration 0002), so the order does not matter.
    """
    summary = BatchSummary(received=len(records))
    letters: list[tuple[DeadLetter, OutboxEvent]] = []
    changes: dict[str, Enrolled | Terminated | None] = {}
    hashes: dict[str, str] = {}
    for record in records:
        eid = _event_id(record)
        change = _read_participant_event(record) if eid is not None else "UNREADABLE: no event_id"
        if isinstance(change, str):
            letters.append(dead_letter(record, change, now))
            continue
        assert eid is not None
        if eid in changes:
            summary.repeated += 1
            continue
        changes[eid] = change
        hashes[eid] = hashlib.sha256(record.value).hexdigest()
    async with pool.acquire() as conn, conn.transaction():
        new = await inbox.claim(conn, LEDGER, hashes, now)
        summary.repeated += len(changes) - len(new)
        enrolled: dict[tuple[str, dt.date], Enrolled] = {}
        terminated: dict[tuple[str, dt.date], Terminated] = {}
        for eid in new:
            change = changes[eid]
            if isinstance(change, Enrolled):
                key = (change.membership_no, change.coverage_start)
                if key not in enrolled or change.enrolled_at > enrolled[key].enrolled_at:
                    enrolled[key] = change
                summary.count("ENROLLED")
            elif isinstance(change, Terminated):
                key = (change.membership_no, change.coverage_start)
                if key not in terminated or change.terminated_at > terminated[key].terminated_at:
                    terminated[key] = change
                summary.count("TERMINATED")
            else:
                summary.count("IGNORED")
        await coverage_ledger.record_enrolments(conn, list(enrolled.values()))
        await coverage_ledger.record_terminations(conn, list(terminated.values()))
        await repository.add_dead_letters(conn, [d for d, _ in letters], now)
        await outbox.add(conn, [e for _, e in letters])
    summary.new = len(new)
    summary.dead_lettered(d.error for d, _ in letters)
    return summary


# --- billing runs ---------------------------------------------------------------------------


def invoice_event(invoice: Invoice, issued_at: dt.datetime) -> OutboxEvent:
    """The `billing.invoice-issued` event of an invoice, keyed by its number."""
    eid = event_id("invoice", invoice.invoice_no)
    totals = invoice.totals
    event = InvoiceIssuedV1(
        event_id=eid,
        invoice_no=invoice.invoice_no,
        kind=invoice.kind.value,
        payer_code=invoice.payer_code,
        period=str(invoice.period),
        issued_at=issued_at,
        lines=[
            InvoiceLine(
                agency_code=line.agency_code,
                funding_source=line.funding_source,
                participants=line.participants,
                jkk=line.jkk,
                jkm=line.jkm,
                amount=line.amount,
            )
            for line in invoice.lines
        ],
        totals=InvoiceTotals(
            participants=totals.participants, jkk=totals.jkk, jkm=totals.jkm, amount=totals.amount
        ),
    )
    return OutboxEvent.of(topics.INVOICE_ISSUED, invoice.invoice_no, event, eid)


async def bill_period(
    conn: asyncpg.Connection, period: Period, tariff: Tariff, request_id: str, now: dt.datetime
) -> list[Invoice]:
    """Charge and credit the period's difference at `tariff` and issue its invoices, in the
    caller's transaction."""
    await accrual.lock_period(conn, period)
    # Unchanged since the last completed run: nothing to charge or credit, and no scan.
    changes = await accrual.ledger_changes(conn)
    if await accrual.unchanged_since_billed(conn, period, changes):
        return []
    history = await invoices.invoice_history(conn, period)
    plans = [
        InvoicePlan(payer, period, history.get(payer, PayerHistory()))
        for payer in await accrual.payers(conn, period)
    ]
    debit_numbers = {p.payer_code: p.debit_no for p in plans}
    debits = await accrual.accrue(conn, period, tariff, debit_numbers, now)
    credit_numbers = {p.payer_code: p.credit_no(p.debit_no in debits) for p in plans}
    credits = await accrual.credit(conn, period, credit_numbers, now)
    issued = [
        invoice
        for plan in plans
        for invoice in plan.invoices(
            debits.get(plan.debit_no, []), credits.get(credit_numbers[plan.payer_code], [])
        )
    ]
    await invoices.insert_invoices(conn, issued, request_id, now)
    await outbox.add(conn, [invoice_event(invoice, now) for invoice in issued])
    await accrual.record_billed(conn, period, changes[0])
    return issued


def _read_run(record: Inbound) -> BillingRunRequestedV1 | str:
    """The run request, or the DLQ error saying why it cannot be read."""
    payload = read_object(record.value)
    if isinstance(payload, str):
        return payload
    try:
        return BillingRunRequestedV1.model_validate_json(record.value)
    except ValidationError as error:
        return _schema_error(error)


async def _run(pool: asyncpg.Pool, record: Inbound, now: dt.datetime) -> tuple[str, str | None]:
    """Process one run request in its own transaction; returns what happened and the error of
    the dead letter it wrote, if any."""
    request = _read_run(record)
    error: str | None = request if isinstance(request, str) else None
    outcome = "DLQ"
    async with pool.acquire() as conn, conn.transaction():
        if not isinstance(request, str):
            period = Period.parse(request.period)
            content_hash = reading.content_hash(json.loads(record.value))
            if await billing_runs.begin_run(
                conn, request.request_id, content_hash, period, request.requested_at, now
            ):
                tariffs = await repository.tariffs(conn)
                try:
                    tariff = tariff_on(tariffs, period.first_day)
                except LookupError as lookup:
                    error = f"NO_TARIFF: {lookup}"
                    await billing_runs.fail_run(conn, request.request_id, error)
                    outcome = "FAILED"
                else:
                    issued = await bill_period(conn, period, tariff, request.request_id, now)
                    outcome = "ISSUED" if issued else "NOTHING_NEW"
            elif await billing_runs.run_hash(conn, request.request_id) == content_hash:
                outcome = "REPEATED"
            else:
                error = "REQUEST_ID_REUSED: same request_id with different content"
        if error is not None:
            letter, event = dead_letter(record, error, now)
            await repository.add_dead_letters(conn, [letter], now)
            await outbox.add(conn, [event])
    return outcome, error


async def run_billing(
    pool: asyncpg.Pool, records: Sequence[Inbound], now: dt.datetime
) -> BatchSummary:
    """Process `billing.run-requested` records, each in its own transaction, in order."""
    summary = BatchSummary(received=len(records))
    for record in records:
        outcome, error = await _run(pool, record, now)
        summary.count(outcome)
        if error is not None:
            summary.dead_letters[error_code(error)] += 1
        if outcome == "REPEATED":
            summary.repeated += 1
        elif outcome != "DLQ":
            summary.new += 1
    return summary


# --- payments and reconciliation -------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    """What `pay` did: recorded (partial or settling the invoice), or refused and why."""

    invoice_no: str
    amount: int
    outstanding_after: int
    refused: str | None = None
    repeated: bool = False


async def pay(
    pool: asyncpg.Pool,
    invoice_no: str,
    amount: int,
    reference: str,
    paid_on: dt.date,
    *,
    partial: bool = False,
) -> Payment | None:
    """Record a payment of `amount` with the payer's `reference`; None if the number is
    unknown. See domain.invoicing.payment_problem for what is refused; the same reference
    again records nothing (a re-run)."""
    async with pool.acquire() as conn, conn.transaction():
        state = await invoices.payment_state(conn, invoice_no)
        if state is None:
            return None
        if await invoices.payment_with_reference(conn, invoice_no, reference) is not None:
            return Payment(invoice_no, amount, state.outstanding, repeated=True)
        problem = payment_problem(state.kind, state.outstanding, amount, partial)
        if problem is not None:
            return Payment(invoice_no, amount, state.outstanding, refused=problem)
        settles = amount == state.outstanding
        paid_at = dt.datetime.combine(paid_on, dt.time(12), JAKARTA)
        await invoices.add_payment(
            conn, invoice_no, amount, reference, paid_on, settles=settles, paid_at=paid_at
        )
        return Payment(invoice_no, amount, state.outstanding - amount)


@dataclass(frozen=True)
class Reconciliation:
    """The figures checked and every mismatch found (none means reconciled)."""

    agencies: list[AgencyCounts]
    periods: list[PeriodFigures]
    ledger_behind: int
    mismatches: list[Mismatch]
    # (period, covered not charged, charged not covered): periods a new run would settle
    bill_again: list[tuple[str, int, int]]


async def reconcile(
    pool: asyncpg.Pool, period: Period | None, now: dt.datetime, stale_after: dt.timedelta
) -> Reconciliation:
    """Check enrolment counts per agency and, per billed period (or `period`), the billing."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        agencies = await reconciliation.agency_counts(conn, now - stale_after)
        tariffs = await repository.tariffs(conn)
        periods = [period] if period is not None else await reconciliation.billed_periods(conn)
        mismatches = [m for counts in agencies for m in check_agency(counts)]
        figures: list[PeriodFigures] = []
        for p in periods:
            try:
                tariff = tariff_on(tariffs, p.first_day)
            except LookupError:
                mismatches.append(Mismatch(f"period {p}", "a tariff is in force", 1, 0))
                continue
            f = await reconciliation.period_figures(conn, p, tariff)
            figures.append(f)
            mismatches += check_period(f)
            mismatches += check_invoices(*await reconciliation.invoice_figures(conn, p))
        behind = await coverage_ledger.ledger_behind(conn)
        mismatches += check_ledger(behind)
    return Reconciliation(agencies, figures, behind, mismatches, periods_to_bill_again(figures))
