"""Reconciliation checks (issue 4; CONTRACT.md outcomes and accrual)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jamsos.domain.reconciliation import (
    AgencyCounts,
    PeriodFigures,
    Sums,
    check_agency,
    check_invoices,
    check_ledger,
    check_period,
)


def agency(**changes: int) -> AgencyCounts:
    base = dict(
        submitted=10,
        enrolled=6,
        duplicate=1,
        rejected=2,
        held=1,
        in_flight=0,
        stale=0,
        with_outcome_event=10,
    )
    base.update(changes)
    return AgencyCounts("DISDAG", **base)


def sums(n: int) -> Sums:
    return Sums(n, n * 10_000, n * 6_800, n * 16_800)


def period(**changes: Any) -> PeriodFigures:
    base = PeriodFigures(
        period="2025-02",
        tariff_total=16_800,
        covered=9,
        charged=sums(10),
        credited=sums(1),
        debit_invoices=sums(10),
        credit_invoices=sums(-1),
        duplicates=0,
        off_tariff=0,
    )
    return replace(base, **changes)


def test_agency_whose_outcomes_add_up_has_no_mismatch() -> None:
    assert check_agency(agency()) == []


def test_agency_with_submission_in_flight_is_not_a_mismatch() -> None:
    assert check_agency(agency(submitted=11, in_flight=1)) == []


def test_agency_with_stale_submission_in_flight_is_a_mismatch() -> None:
    [m] = check_agency(agency(submitted=11, in_flight=1, stale=1))
    assert m.check == "no submission stuck in flight"


def test_agency_with_missing_outcome_event_is_a_mismatch() -> None:
    [m] = check_agency(agency(with_outcome_event=9))
    assert (m.expected, m.actual) == (10, 9)


def test_agency_whose_statuses_do_not_add_up_is_a_mismatch() -> None:
    [m] = check_agency(agency(submitted=12))
    assert m.check.startswith("submitted =")


def test_period_where_charges_invoices_and_coverage_agree_has_no_mismatch() -> None:
    assert check_period(period()) == []


def test_period_with_charges_beyond_invoices_is_a_mismatch() -> None:
    checks = {m.check for m in check_period(period(charged=sums(11)))}
    assert "Σ charge lines = Σ REGULAR + SUPPLEMENTARY totals" in checks
    assert "Σ charge lines − credited = covered × tariff" in checks


def test_period_with_uninvoiced_coverage_is_a_mismatch() -> None:
    checks = {m.check for m in check_period(period(covered=10))}
    assert "Σ invoice totals − credits = covered × tariff" in checks


def test_period_with_duplicate_or_off_tariff_charges_is_a_mismatch() -> None:
    checks = {m.check for m in check_period(period(duplicates=1, off_tariff=2))}
    assert checks == {
        "no (participant, period) charged twice",
        "every charge at the period's tariff",
    }


def test_invoice_whose_lines_match_totals_and_charges_has_no_mismatch() -> None:
    key = ("JMS-P-202502-01", "DISDAG", "DBHCHT")
    assert check_invoices({key[0]: sums(3)}, {key: sums(3)}, {key: sums(3)}) == []


def test_invoice_line_that_disagrees_with_its_charges_is_a_mismatch() -> None:
    key = ("JMS-P-202502-01", "DISDAG", "DBHCHT")
    mismatches = check_invoices({key[0]: sums(3)}, {key: sums(3)}, {key: sums(2)})
    assert {m.check for m in mismatches} == {
        f"line = Σ its charges ({f})" for f in ("participants", "jkk", "jkm", "amount")
    }


def test_ledger_behind_enrolment_is_a_mismatch() -> None:
    assert check_ledger(0) == []
    assert check_ledger(2)[0].actual == 2


def test_agency_with_a_status_lacking_its_outcome_event_is_a_mismatch() -> None:
    [mismatch] = check_agency(agency(status_without_event=1))
    assert (mismatch.check, mismatch.expected, mismatch.actual) == (
        "each status has its outcome event",
        0,
        1,
    )
