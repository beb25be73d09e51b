"""Payments of invoices (`jamsos invoice pay`): one transaction per payment, the invoice row
locked, the payer's reference as the payment's identity (the same reference again records
nothing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from jamsos.domain.coverage import JAKARTA
from jamsos.domain.invoicing import payment_problem
from jamsos.usecases.ports import PaymentStore, UnitOfWork
from jamsos.usecases.rows import AuditAction, AuditEntry


@dataclass(frozen=True)
class Payment:
    """What `pay` did: recorded (partial or settling the invoice), or refused and why."""

    invoice_no: str
    amount: int
    outstanding_after: int
    refused: str | None = None
    repeated: bool = False


async def pay(
    uow: UnitOfWork[PaymentStore],
    invoice_no: str,
    amount: int,
    reference: str,
    paid_on: dt.date,
    *,
    partial: bool = False,
    actor: str = "unknown",
    now: dt.datetime | None = None,
) -> Payment | None:
    """Record a payment of `amount` with the payer's `reference`; None if the number is
    unknown. See domain.invoicing.payment_problem for what is refused; the same reference
    again records nothing (a re-run). A recorded payment is audited under `actor` in its
    transaction (a refused or repeated one changes nothing and is not)."""
    async with uow.transaction() as store:
        state = await store.payment_state(invoice_no)
        if state is None:
            return None
        if await store.payment_with_reference(invoice_no, reference) is not None:
            return Payment(invoice_no, amount, state.outstanding, repeated=True)
        problem = payment_problem(state.kind, state.outstanding, amount, partial)
        if problem is not None:
            return Payment(invoice_no, amount, state.outstanding, refused=problem)
        settles = amount == state.outstanding
        paid_at = dt.datetime.combine(paid_on, dt.time(12), JAKARTA)
        await store.add_payment(
            invoice_no, amount, reference, paid_on, settles=settles, paid_at=paid_at
        )
        entry = AuditEntry(
            actor,
            AuditAction.INVOICE_PAY,
            invoice_no,
            reference,
            {"amount": amount, "paid_on": paid_on.isoformat(), "settles": settles},
        )
        await store.add_audit([entry], now or dt.datetime.now(dt.UTC))
        return Payment(invoice_no, amount, state.outstanding - amount)
