"""`jamsos reconcile`: read every figure in one snapshot and run the checks of
domain/reconciliation.py on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from jamsos.domain.period import Period
from jamsos.domain.reconciliation import (
    AgencyCounts,
    CapacityCount,
    Mismatch,
    PeriodFigures,
    check_agency,
    check_capacity,
    check_invoices,
    check_ledger,
    check_period,
    periods_to_bill_again,
)
from jamsos.domain.tariff import tariff_on
from jamsos.usecases.ports import ReconciliationStore, Snapshots


@dataclass(frozen=True)
class Reconciliation:
    """The figures checked and every mismatch found (none means reconciled)."""

    agencies: list[AgencyCounts]
    periods: list[PeriodFigures]
    ledger_behind: int
    mismatches: list[Mismatch]
    # (period, covered not charged, charged not covered): periods a new run would settle
    bill_again: list[tuple[str, int, int]]
    # every capacity counter beside its scope's active participants (an extension, README)
    capacity: list[CapacityCount] = field(default_factory=list)


async def reconcile(
    uow: Snapshots[ReconciliationStore],
    period: Period | None,
    now: dt.datetime,
    stale_after: dt.timedelta,
) -> Reconciliation:
    """Check enrolment counts per agency, per billed period (or `period`) the billing, and the
    capacity counters."""
    async with uow.snapshot() as store:
        agencies = await store.agency_counts(now - stale_after)
        tariffs = await store.tariffs()
        periods = [period] if period is not None else await store.billed_periods()
        mismatches = [m for counts in agencies for m in check_agency(counts)]
        figures: list[PeriodFigures] = []
        for p in periods:
            try:
                tariff = tariff_on(tariffs, p.first_day)
            except LookupError:
                mismatches.append(Mismatch(f"period {p}", "a tariff is in force", 1, 0))
                continue
            f = await store.period_figures(p, tariff)
            figures.append(f)
            mismatches += check_period(f)
            mismatches += check_invoices(*await store.invoice_figures(p))
        behind = await store.ledger_behind()
        mismatches += check_ledger(behind)
        capacity = await store.capacity_counts()
        mismatches += check_capacity(capacity)
    return Reconciliation(
        agencies, figures, behind, mismatches, periods_to_bill_again(figures), capacity
    )
