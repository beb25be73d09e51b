"""`jamsos reconcile` on the fake store.

Every figure is a set-based query in PostgreSQL; the fake returns figures a test sets (see
tests/fakes.py), so these tests cover what `reconcile` decides around them: which periods it
checks, a period without a tariff, one read-only snapshot, and that each check's mismatch
reaches the result. tests/integration/test_billing_cli.py proves the SQL figures (tampered
charges, invoices, outcome events, the ledger).
"""

from __future__ import annotations

import datetime as dt

from jamsos.domain.invoicing import Invoice, InvoiceKind, Line
from jamsos.domain.period import Period
from jamsos.domain.reconciliation import AgencyCounts, PeriodFigures, Sums
from jamsos.usecases.reconciliation import reconcile
from tests.fakes import NO_SUMS, FakeUnitOfWork
from tests.unit.usecases.support import NOW

HOUR = dt.timedelta(hours=1)


def counts(**changes: int) -> AgencyCounts:
    base = dict(submitted=5, enrolled=3, duplicate=1, rejected=1, held=0, in_flight=0,
                stale=0, with_outcome_event=5)  # fmt: skip
    return AgencyCounts("DISDAG", **{**base, **changes})


def figures(period: str, covered: int, charged: int) -> PeriodFigures:
    """`charged` participants at Rp16.800, invoiced as charged."""
    sums = Sums(charged, 10_000 * charged, 6_800 * charged, 16_800 * charged)
    return PeriodFigures(period, 16_800, covered, sums, NO_SUMS, sums, NO_SUMS, 0, 0)


async def billed(*periods: str) -> FakeUnitOfWork:
    """Invoices for these periods, each with figures that reconcile."""
    uow = FakeUnitOfWork()
    async with uow.transaction() as store:
        for seq, period in enumerate(periods, 1):
            invoice = Invoice(f"JMS-P-{seq}", "P", Period.parse(period), 1, InvoiceKind.REGULAR,
                              (Line("DISDAG", "DBHCHT", 2, 20_000, 13_600),))  # fmt: skip
            await store.insert_invoices([invoice], f"R-{seq}", NOW)
            uow.state.figures.periods[period] = figures(period, 2, 2)
    uow.state.figures.agencies = [counts()]
    return uow


async def test_reconciled_figures_give_no_mismatch_from_one_read_only_snapshot() -> None:
    uow = await billed("2025-02")
    result = await reconcile(uow, None, NOW, HOUR)
    assert result.mismatches == [] and result.bill_again == []
    assert (uow.snapshots, uow.commits) == (1, 1)  # the one commit is billed()'s own


async def test_every_billed_period_is_checked_or_only_the_one_asked_for() -> None:
    uow = await billed("2025-02", "2025-03")
    every = await reconcile(uow, None, NOW, HOUR)
    assert [f.period for f in every.periods] == ["2025-02", "2025-03"]
    one = await reconcile(uow, Period.parse("2025-03"), NOW, HOUR)
    assert [f.period for f in one.periods] == ["2025-03"]


async def test_a_period_before_any_tariff_is_a_mismatch_not_an_error() -> None:
    uow = await billed("2025-02")
    result = await reconcile(uow, Period.parse("2024-12"), NOW, HOUR)
    assert [(m.scope, m.check) for m in result.mismatches] == [
        ("period 2024-12", "a tariff is in force")
    ]
    assert result.periods == []


async def test_agency_counts_that_do_not_add_up_are_mismatches() -> None:
    uow = await billed("2025-02")
    uow.state.figures.agencies = [counts(enrolled=2, with_outcome_event=4, stale=1)]
    result = await reconcile(uow, None, NOW, HOUR)
    assert {m.check for m in result.mismatches} == {
        "submitted = enrolled + duplicate + rejected + held + in flight",
        "no submission stuck in flight",
    }
    assert [a.agency_code for a in result.agencies] == ["DISDAG"]


async def test_a_period_covering_more_than_it_charged_is_named_to_bill_again() -> None:
    uow = await billed("2025-02")
    uow.state.figures.periods["2025-02"] = figures("2025-02", covered=3, charged=2)
    result = await reconcile(uow, None, NOW, HOUR)
    assert result.bill_again == [("2025-02", 1, 0)]
    assert "participants charged once = covered participants" in {
        m.check for m in result.mismatches
    }


async def test_invoice_lines_that_differ_from_their_charges_are_mismatches() -> None:
    uow = await billed("2025-02")
    two = Sums(2, 20_000, 13_600, 33_600)
    key = ("JMS-P-1", "DISDAG", "DBHCHT")
    uow.state.figures.invoices["2025-02"] = ({"JMS-P-1": two}, {key: two}, {key: NO_SUMS})
    result = await reconcile(uow, None, NOW, HOUR)
    assert {m.scope for m in result.mismatches} == {"invoice JMS-P-1 DISDAG/DBHCHT"}
    assert all(m.check.startswith("line = Σ its charges") for m in result.mismatches)


async def test_participants_missing_from_the_ledger_are_a_mismatch() -> None:
    uow = await billed("2025-02")
    uow.state.figures.ledger_behind = 2
    result = await reconcile(uow, None, NOW, HOUR)
    assert result.ledger_behind == 2
    assert [m.scope for m in result.mismatches] == ["ledger"]
