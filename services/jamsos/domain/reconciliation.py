"""Reconciliation checks over enrolment and billing figures; each mismatch is a value.

Sources: CONTRACT.md ("Outcomes: exactly one per submission"; "over all invoices of a period,
each participant is charged exactly once and the sum equals the accrual rule") and issue 4:
for every agency, submitted = enrolled + duplicate + rejected + held; for each period,
Σ charge lines = Σ invoice totals − credits = covered participants × tariff; no
(participant, period) twice.

Decision: a submission still being decided (status RECEIVED) is reported as in flight and is
not a mismatch, since it takes the pipeline a moment to decide; one still undecided after
`stale_after` (the caller's setting) is a mismatch, because something is stuck.

Capacity (migration 0010): every `capacity` row counts the ACTIVE participants of its scope
(the regency: all; `agency:X`: agency X's), and every agency with active participants has a
row; a drifted counter refuses workers while places remain or lets an agency pass its quota.
`jamsos ops capacity recount` repairs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Mismatch:
    """One failed check: where, what, and the two sides that should be equal."""

    scope: str
    check: str
    expected: int
    actual: int


@dataclass(frozen=True)
class AgencyCounts:
    """Submissions of one agency by status, and how many have an outcome event."""

    agency_code: str
    submitted: int
    enrolled: int
    duplicate: int
    rejected: int
    held: int
    in_flight: int
    stale: int
    with_outcome_event: int
    status_without_event: int = 0  # decided, but no outcome event of the status's kind

    @property
    def decided(self) -> int:
        """Submissions with a terminal or held outcome."""
        return self.enrolled + self.duplicate + self.rejected + self.held


@dataclass(frozen=True)
class Sums:
    """Participants and money of a set of charges or invoice lines."""

    participants: int
    jkk: int
    jkm: int
    amount: int


InvoiceKey = tuple[str, str, str]  # (invoice_no, agency_code, funding_source)


@dataclass(frozen=True)
class PeriodFigures:
    """Everything billed for one period, read independently from each table.

    `covered` comes from the coverage ledger by the accrual rule, `tariff_total` from the
    tariff table; charges are the per-participant lines, invoices their issued totals.
    """

    period: str
    tariff_total: int
    covered: int
    charged: Sums
    credited: Sums
    debit_invoices: Sums
    credit_invoices: Sums
    duplicates: int
    off_tariff: int


@dataclass(frozen=True)
class CapacityCount:
    """One capacity scope: its counter (None: the row is missing) and the truth."""

    scope: str  # 'regency' or 'agency:' + agency_code
    used: int | None
    active: int


def check_capacity(counts: Sequence[CapacityCount]) -> list[Mismatch]:
    """Every counter equals the active participants of its scope; a scope with active
    participants (and the regency, always) has its row."""
    result: list[Mismatch] = []
    for c in counts:
        scope = f"capacity {c.scope}"
        if c.used is None:
            if c.active or c.scope == "regency":
                result.append(Mismatch(scope, "the scope has a capacity row", 1, 0))
        elif c.used != c.active:
            result.append(Mismatch(scope, "places used = active participants", c.active, c.used))
    return result


def check_agency(counts: AgencyCounts) -> list[Mismatch]:
    """submitted = enrolled + duplicate + rejected + held (+ in flight), one outcome each."""
    scope = f"agency {counts.agency_code}"
    result: list[Mismatch] = []
    if counts.submitted != counts.decided + counts.in_flight:
        result.append(
            Mismatch(
                scope,
                "submitted = enrolled + duplicate + rejected + held + in flight",
                counts.submitted,
                counts.decided + counts.in_flight,
            )
        )
    if counts.stale:
        result.append(Mismatch(scope, "no submission stuck in flight", 0, counts.stale))
    if counts.with_outcome_event != counts.decided:
        result.append(
            Mismatch(
                scope,
                "one outcome event per decided submission",
                counts.decided,
                counts.with_outcome_event,
            )
        )
    if counts.status_without_event:
        result.append(
            Mismatch(scope, "each status has its outcome event", 0, counts.status_without_event)
        )
    return result


def check_period(figures: PeriodFigures) -> list[Mismatch]:
    """Charges, invoices, credits and the accrual rule agree to the Rupiah."""
    scope = f"period {figures.period}"
    charged, credited = figures.charged, figures.credited
    net = charged.amount - credited.amount
    checks = [
        (
            "Σ charge lines = Σ REGULAR + SUPPLEMENTARY totals",
            charged.amount,
            figures.debit_invoices.amount,
        ),
        (
            "charged participants = invoiced participants",
            charged.participants,
            figures.debit_invoices.participants,
        ),
        (
            "Σ credited charge lines = −Σ CREDIT totals",
            credited.amount,
            -figures.credit_invoices.amount,
        ),
        (
            "credited participants = −CREDIT participants",
            credited.participants,
            -figures.credit_invoices.participants,
        ),
        (
            "Σ invoice totals − credits = covered × tariff",
            figures.covered * figures.tariff_total,
            figures.debit_invoices.amount + figures.credit_invoices.amount,
        ),
        (
            "Σ charge lines − credited = covered × tariff",
            figures.covered * figures.tariff_total,
            net,
        ),
        (
            "participants charged once = covered participants",
            figures.covered,
            charged.participants - credited.participants,
        ),
        ("no (participant, period) charged twice", 0, figures.duplicates),
        ("every charge at the period's tariff", 0, figures.off_tariff),
    ]
    return [
        Mismatch(scope, name, expected, actual)
        for name, expected, actual in checks
        if expected != actual
    ]


def check_invoices(
    headers: Mapping[str, Sums],
    lines: Mapping[InvoiceKey, Sums],
    charges: Mapping[InvoiceKey, Sums],
) -> list[Mismatch]:
    """Per invoice: totals = Σ lines; per line (invoice, agency, funding): line = its charges.

    Charges of a credit note are given negated, as they appear on it.
    """
    result: list[Mismatch] = []
    line_totals: dict[str, Sums] = {}
    for (number, _, _), sums in lines.items():
        line_totals[number] = _add(line_totals.get(number), sums)
    for number in sorted(headers.keys() | line_totals.keys()):
        result += _compare(
            f"invoice {number}", "totals = Σ lines", headers.get(number), line_totals.get(number)
        )
    for key in sorted(lines.keys() | charges.keys()):
        number, agency, funding = key
        result += _compare(
            f"invoice {number} {agency}/{funding}",
            "line = Σ its charges",
            charges.get(key),
            lines.get(key),
        )
    return result


def check_ledger(behind: int) -> list[Mismatch]:
    """Every participant's current coverage is in the billing ledger, with the same end."""
    return (
        []
        if behind == 0
        else [Mismatch("ledger", "participants whose coverage the billing ledger lacks", 0, behind)]
    )


def _add(left: Sums | None, right: Sums) -> Sums:
    if left is None:
        return right
    return Sums(
        left.participants + right.participants,
        left.jkk + right.jkk,
        left.jkm + right.jkm,
        left.amount + right.amount,
    )


def _compare(scope: str, check: str, expected: Sums | None, actual: Sums | None) -> list[Mismatch]:
    zero = Sums(0, 0, 0, 0)
    want, got = expected or zero, actual or zero
    return [
        Mismatch(scope, f"{check} ({name})", getattr(want, name), getattr(got, name))
        for name in ("participants", "jkk", "jkm", "amount")
        if getattr(want, name) != getattr(got, name)
    ]


def periods_to_bill_again(periods: Sequence[PeriodFigures]) -> list[tuple[str, int, int]]:
    """(period, covered but not charged, charged but no longer covered) of every period whose
    charges lag its coverage, e.g. after a late enrolment or termination: a new `jamsos bill`
    of the period issues the difference."""
    result = []
    for f in periods:
        net = f.charged.participants - f.credited.participants
        if net != f.covered:
            result.append((f.period, max(f.covered - net, 0), max(net - f.covered, 0)))
    return result
