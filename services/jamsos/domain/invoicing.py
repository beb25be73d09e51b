"""Invoices from charges: REGULAR, SUPPLEMENTARY and CREDIT differences, numbers and totals.

Source: CONTRACT.md, "billing.run-requested.v1 -> billing.invoice-issued.v1": one invoice per
payer and period with lines per agency and funding source; a re-run issues only the difference,
as a SUPPLEMENTARY invoice or a CREDIT note with negative amounts; numbers are
`JMS-{payer}-{YYYYMM}-{seq:02}`. Due date: RULES.md, BPU premiums are paid by the 15th of the
month they are for.

Decisions: a payer's first invoice of a period is REGULAR, later debits are SUPPLEMENTARY; when
one run both charges and credits a payer, the debit takes the next number and the credit note
the one after. Everything on a credit note (participants too) is negative, so the sum over all
invoices of a period is the net amount charged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from jamsos.domain.accrual import Charge
from jamsos.domain.period import Period

DUE_DAY = 15


class InvoiceKind(StrEnum):
    """What an invoice does to the payer's balance for its period."""

    REGULAR = "REGULAR"
    SUPPLEMENTARY = "SUPPLEMENTARY"
    CREDIT = "CREDIT"


def invoice_no(payer_code: str, period: Period, seq: int) -> str:
    """The deterministic invoice number, e.g. JMS-PEMKAB-KUDUS-202502-01."""
    if seq < 1:
        raise ValueError(f"invoice sequence starts at 1, got {seq}")
    return f"JMS-{payer_code}-{period.compact}-{seq:02d}"


def due_date(period: Period) -> date:
    """The day by which the premium for `period` must be paid (the 15th of that month)."""
    return period.first_day.replace(day=DUE_DAY)


LAPSE_MONTHS = 3  # BPU participation lapses after 3 unpaid months (RULES.md)


def months_in_arrears(period: Period, today: date) -> int:
    """How many monthly due dates have passed since `period`'s premium fell due unpaid: 1 the
    day after its due date, 2 a month later, and at LAPSE_MONTHS participation lapses."""
    months = 0
    due = period
    while due_date(due) < today:
        months += 1
        due = due.next()
    return months


def _rp(amount: int) -> str:
    return f"Rp{amount:,}".replace(",", ".")


def payment_problem(kind: str, outstanding: int, amount: int, partial: bool) -> str | None:
    """Why a payment of `amount` against an invoice with `outstanding` is refused, or None.

    The amount must be the outstanding balance, or less when the payer says it is partial; a
    credit note is not paid and an overpayment is always refused (a typing error, or money
    to return)."""
    if kind == "CREDIT":
        return "is a credit note: it lowers the period's balance and is not paid"
    if outstanding <= 0:
        return "is already paid in full"
    if amount <= 0:
        return "a payment amount must be positive"
    paying, owed = _rp(amount), _rp(outstanding)
    if amount > outstanding:
        return f"{paying} is more than the outstanding {owed}: check the amount"
    if amount < outstanding and not partial:
        return (
            f"{paying} differs from the outstanding {owed}: pay exactly that,"
            " or add --partial to record a partial payment"
        )
    return None


@dataclass(frozen=True)
class Line:
    """The charges of one agency and funding source on one invoice."""

    agency_code: str
    funding_source: str
    participants: int
    jkk: int
    jkm: int

    @property
    def amount(self) -> int:
        """JKK + JKM."""
        return self.jkk + self.jkm

    def negated(self) -> Line:
        """The same line as it appears on a credit note."""
        return Line(self.agency_code, self.funding_source, -self.participants, -self.jkk, -self.jkm)


@dataclass(frozen=True)
class Totals:
    """Sums over an invoice's lines."""

    participants: int
    jkk: int
    jkm: int

    @property
    def amount(self) -> int:
        """JKK + JKM."""
        return self.jkk + self.jkm

    @classmethod
    def of(cls, lines: Iterable[Line]) -> Totals:
        """The sums of `lines`."""
        items = list(lines)
        return cls(
            participants=sum(line.participants for line in items),
            jkk=sum(line.jkk for line in items),
            jkm=sum(line.jkm for line in items),
        )


@dataclass(frozen=True)
class Invoice:
    """An invoice or credit note for one payer and period, lines sorted by agency."""

    invoice_no: str
    payer_code: str
    period: Period
    seq: int
    kind: InvoiceKind
    lines: tuple[Line, ...]

    @property
    def totals(self) -> Totals:
        """Sums over the lines."""
        return Totals.of(self.lines)


@dataclass(frozen=True)
class PayerHistory:
    """What a payer has been invoiced for a period so far."""

    last_seq: int = 0
    has_regular: bool = False


@dataclass(frozen=True)
class InvoicePlan:
    """The numbers and kinds of one payer's invoices in one billing run for one period."""

    payer_code: str
    period: Period
    history: PayerHistory = PayerHistory()

    @property
    def debit_kind(self) -> InvoiceKind:
        """REGULAR for the payer's first invoice of the period, SUPPLEMENTARY after."""
        return InvoiceKind.SUPPLEMENTARY if self.history.has_regular else InvoiceKind.REGULAR

    @property
    def debit_no(self) -> str:
        """The number new charges are invoiced under."""
        return invoice_no(self.payer_code, self.period, self.history.last_seq + 1)

    def credit_seq(self, debited: bool) -> int:
        """The credit note's sequence: after this run's debit invoice, if there is one."""
        return self.history.last_seq + (2 if debited else 1)

    def credit_no(self, debited: bool) -> str:
        """The number credited charges are refunded under."""
        return invoice_no(self.payer_code, self.period, self.credit_seq(debited))

    def invoices(self, debits: Sequence[Line], credits: Sequence[Line]) -> list[Invoice]:
        """The invoices this run issues: lines of new charges, and (positive) credited lines."""
        result: list[Invoice] = []
        if debits:
            result.append(
                Invoice(
                    self.debit_no,
                    self.payer_code,
                    self.period,
                    self.history.last_seq + 1,
                    self.debit_kind,
                    _sorted(debits),
                )
            )
        if credits:
            result.append(
                Invoice(
                    self.credit_no(bool(debits)),
                    self.payer_code,
                    self.period,
                    self.credit_seq(bool(debits)),
                    InvoiceKind.CREDIT,
                    _sorted(line.negated() for line in credits),
                )
            )
        return result


def lines_of(charges: Iterable[Charge]) -> list[Line]:
    """Charges summed per agency and funding source."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for charge in charges:
        acc = sums[(charge.agency_code, charge.funding_source)]
        acc[0] += 1
        acc[1] += charge.jkk
        acc[2] += charge.jkm
    return list(_sorted(Line(a, f, n, jkk, jkm) for (a, f), (n, jkk, jkm) in sums.items()))


def issue(
    period: Period,
    history: Mapping[str, PayerHistory],
    new_charges: Iterable[Charge],
    credited: Iterable[Charge],
) -> list[Invoice]:
    """Every invoice of one run: per payer, new charges and credited charges (pure reference)."""
    debits: dict[str, list[Charge]] = defaultdict(list)
    credits: dict[str, list[Charge]] = defaultdict(list)
    for charge in new_charges:
        debits[charge.payer_code].append(charge)
    for charge in credited:
        credits[charge.payer_code].append(charge)
    invoices: list[Invoice] = []
    for payer in sorted(debits.keys() | credits.keys()):
        plan = InvoicePlan(payer, period, history.get(payer, PayerHistory()))
        invoices += plan.invoices(lines_of(debits[payer]), lines_of(credits[payer]))
    return invoices


def after(history: PayerHistory, invoices: Iterable[Invoice]) -> PayerHistory:
    """The payer's history once `invoices` (all of that payer) are issued."""
    result = history
    for invoice in invoices:
        result = PayerHistory(
            max(result.last_seq, invoice.seq),
            result.has_regular or invoice.kind is InvoiceKind.REGULAR,
        )
    return result


def _sorted(lines: Iterable[Line]) -> tuple[Line, ...]:
    return tuple(sorted(lines, key=lambda line: (line.agency_code, line.funding_source)))
