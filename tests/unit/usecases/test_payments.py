"""Payments (`jamsos invoice pay`) on the fake store: what is recorded, refused or repeated.

The amounts refused are domain.invoicing.payment_problem's (tests/unit/test_invoicing.py);
tests/integration/test_finance_guards.py runs it through `jamsos invoice pay` on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

from jamsos.domain.coverage import JAKARTA
from jamsos.domain.invoicing import Invoice, InvoiceKind, Line
from jamsos.domain.period import Period
from jamsos.usecases.payments import Payment, pay
from jamsos.usecases.rows import AuditAction
from tests.fakes import FakeUnitOfWork
from tests.unit.usecases.support import NOW

REGULAR = "JMS-PEMKAB-KUDUS-202502-01"
CREDIT = "JMS-PEMKAB-KUDUS-202502-02"
DAY = dt.date(2025, 2, 10)


async def billed() -> FakeUnitOfWork:
    """One REGULAR invoice of Rp50.400 (3 participants) and one credit note of −Rp16.800."""
    uow = FakeUnitOfWork()
    period = Period.parse("2025-02")
    regular = Invoice(REGULAR, "PEMKAB-KUDUS", period, 1, InvoiceKind.REGULAR,
                      (Line("DISDAG", "DBHCHT", 3, 30_000, 20_400),))  # fmt: skip
    credit = Invoice(CREDIT, "PEMKAB-KUDUS", period, 2, InvoiceKind.CREDIT,
                     (Line("DISDAG", "DBHCHT", -1, -10_000, -6_800),))  # fmt: skip
    async with uow.transaction() as store:
        await store.insert_invoices([regular, credit], "R-1", NOW)
    return uow


async def test_paying_the_outstanding_amount_marks_the_invoice_paid_at_noon_wib() -> None:
    uow = await billed()
    result = await pay(uow, REGULAR, 50_400, "SP2D-1", DAY)
    assert result == Payment(REGULAR, 50_400, 0)
    invoice = uow.state.invoices[REGULAR]
    assert invoice["status"] == "PAID"
    assert invoice["paid_at"] == dt.datetime(2025, 2, 10, 12, tzinfo=JAKARTA)
    assert [(p["amount"], p["reference"], p["partial"]) for p in uow.state.payments] == [
        (50_400, "SP2D-1", False)
    ]


async def test_partial_payments_leave_the_rest_outstanding_until_the_last_settles() -> None:
    uow = await billed()
    first = await pay(uow, REGULAR, 20_000, "TRF-1", DAY, partial=True)
    assert first == Payment(REGULAR, 20_000, 30_400)
    assert uow.state.invoices[REGULAR]["status"] == "ISSUED"
    last = await pay(uow, REGULAR, 30_400, "TRF-2", DAY)
    assert last == Payment(REGULAR, 30_400, 0)
    assert uow.state.invoices[REGULAR]["status"] == "PAID"
    assert [p["partial"] for p in uow.state.payments] == [True, False]


async def test_less_than_outstanding_without_partial_is_refused_and_records_nothing() -> None:
    uow = await billed()
    result = await pay(uow, REGULAR, 50_000, "SP2D-1", DAY)
    assert result is not None and result.refused is not None
    assert "--partial" in result.refused
    assert result.outstanding_after == 50_400
    assert uow.state.payments == [] and uow.state.invoices[REGULAR]["status"] == "ISSUED"


async def test_more_than_outstanding_is_refused_even_with_partial() -> None:
    uow = await billed()
    result = await pay(uow, REGULAR, 60_000, "SP2D-1", DAY, partial=True)
    assert result is not None and result.refused is not None
    assert "more than the outstanding" in result.refused
    assert uow.state.payments == []


async def test_the_same_reference_again_is_repeated_and_records_nothing_new() -> None:
    uow = await billed()
    await pay(uow, REGULAR, 20_000, "TRF-1", DAY, partial=True)
    again = await pay(uow, REGULAR, 20_000, "TRF-1", DAY, partial=True)
    assert again == Payment(REGULAR, 20_000, 30_400, repeated=True)
    assert len(uow.state.payments) == 1


async def test_a_paid_invoice_refuses_another_payment() -> None:
    uow = await billed()
    await pay(uow, REGULAR, 50_400, "SP2D-1", DAY)
    result = await pay(uow, REGULAR, 50_400, "SP2D-2", DAY)
    assert result is not None and result.refused == "is already paid in full"
    assert len(uow.state.payments) == 1


async def test_a_credit_note_is_not_paid() -> None:
    uow = await billed()
    result = await pay(uow, CREDIT, 16_800, "SP2D-1", DAY)
    assert result is not None and result.refused is not None
    assert result.refused.startswith("is a credit note")
    assert uow.state.payments == []


async def test_an_unknown_invoice_number_is_none() -> None:
    uow = await billed()
    assert await pay(uow, "JMS-PEMKAB-KUDUS-202502-09", 50_400, "SP2D-1", DAY) is None


async def test_a_recorded_payment_is_audited_under_its_actor_and_a_repeat_is_not() -> None:
    uow = await billed()
    await pay(uow, REGULAR, 20_000, "TRF-1", DAY, partial=True, actor="budi", now=NOW)
    await pay(uow, REGULAR, 20_000, "TRF-1", DAY, partial=True, actor="budi", now=NOW)
    await pay(uow, REGULAR, 99_000, "TRF-9", DAY, actor="budi", now=NOW)  # refused
    [(at, entry)] = uow.state.audit
    assert at == NOW
    assert (entry.actor, entry.action, entry.subject, entry.reason) == (
        "budi",
        AuditAction.INVOICE_PAY,
        REGULAR,
        "TRF-1",
    )
    assert entry.detail == {"amount": 20_000, "paid_on": "2025-02-10", "settles": False}
