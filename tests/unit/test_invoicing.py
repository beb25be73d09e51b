"""Invoices from charges: kinds, numbers, lines and totals (CONTRACT.md, billing)."""

from __future__ import annotations

from datetime import date

import pytest

from jamsos.domain.accrual import Charge, CoverageRecord, accrue, to_credit
from jamsos.domain.invoicing import (
    InvoiceKind,
    InvoicePlan,
    Line,
    PayerHistory,
    Totals,
    after,
    due_date,
    invoice_no,
    issue,
    lines_of,
)
from jamsos.domain.period import Period
from jamsos.domain.tariff import TARIFF_2025

FEB = Period(2025, 2)
PAYER = "PEMKAB-KUDUS"


def charge(
    number: str, agency: str = "DISDAG", funding: str = "DBHCHT", payer: str = PAYER
) -> Charge:
    return Charge(
        number, FEB, date(2025, 2, 1), "3319014506900001", agency, payer, funding, 10_000, 6_800
    )


def test_invoice_number_is_payer_period_and_two_digit_sequence() -> None:
    assert invoice_no(PAYER, FEB, 1) == "JMS-PEMKAB-KUDUS-202502-01"
    assert invoice_no(PAYER, Period(2025, 12), 12) == "JMS-PEMKAB-KUDUS-202512-12"


def test_invoice_sequence_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        invoice_no(PAYER, FEB, 0)


def test_due_date_is_the_15th_of_the_period() -> None:
    assert due_date(FEB) == date(2025, 2, 15)


def test_lines_sum_charges_per_agency_and_funding_source() -> None:
    charges = [charge("A"), charge("B"), charge("C", "DISHUB", "APBD")]
    assert lines_of(charges) == [
        Line("DISDAG", "DBHCHT", 2, 20_000, 13_600),
        Line("DISHUB", "APBD", 1, 10_000, 6_800),
    ]


def test_first_invoice_of_period_is_regular_number_01() -> None:
    [invoice] = issue(FEB, {}, [charge("A")], [])
    assert (invoice.invoice_no, invoice.kind, invoice.seq) == (
        "JMS-PEMKAB-KUDUS-202502-01",
        InvoiceKind.REGULAR,
        1,
    )
    assert invoice.totals == Totals(1, 10_000, 6_800)
    assert invoice.totals.amount == 16_800


def test_rerun_of_unchanged_period_issues_no_invoice() -> None:
    assert issue(FEB, {PAYER: PayerHistory(1, True)}, [], []) == []


def test_new_charges_after_regular_invoice_are_supplementary_with_next_number() -> None:
    [invoice] = issue(FEB, {PAYER: PayerHistory(1, True)}, [charge("Z")], [])
    assert (invoice.invoice_no, invoice.kind) == (
        "JMS-PEMKAB-KUDUS-202502-02",
        InvoiceKind.SUPPLEMENTARY,
    )


def test_credited_charges_make_a_credit_note_with_negative_amounts() -> None:
    [credit] = issue(FEB, {PAYER: PayerHistory(2, True)}, [], [charge("A")])
    assert (credit.invoice_no, credit.kind) == ("JMS-PEMKAB-KUDUS-202502-03", InvoiceKind.CREDIT)
    assert credit.lines == (Line("DISDAG", "DBHCHT", -1, -10_000, -6_800),)
    assert credit.totals.amount == -16_800


def test_debit_and_credit_in_one_run_take_consecutive_numbers_debit_first() -> None:
    invoices = issue(FEB, {PAYER: PayerHistory(1, True)}, [charge("Z")], [charge("A")])
    assert [(i.seq, i.kind) for i in invoices] == [
        (2, InvoiceKind.SUPPLEMENTARY),
        (3, InvoiceKind.CREDIT),
    ]


def test_each_payer_gets_its_own_invoice_and_numbering() -> None:
    invoices = issue(
        FEB, {PAYER: PayerHistory(1, True)}, [charge("A"), charge("B", payer="DESA-X")], []
    )
    assert [(i.invoice_no, i.kind) for i in invoices] == [
        ("JMS-DESA-X-202502-01", InvoiceKind.REGULAR),
        ("JMS-PEMKAB-KUDUS-202502-02", InvoiceKind.SUPPLEMENTARY),
    ]


def test_plan_numbers_credit_after_debit_only_when_there_is_a_debit() -> None:
    plan = InvoicePlan(PAYER, FEB, PayerHistory(3, True))
    assert plan.debit_no == "JMS-PEMKAB-KUDUS-202502-04"
    assert plan.credit_no(debited=True) == "JMS-PEMKAB-KUDUS-202502-05"
    assert plan.credit_no(debited=False) == "JMS-PEMKAB-KUDUS-202502-04"


def test_history_after_invoices_has_last_sequence_and_regular() -> None:
    invoices = issue(FEB, {}, [charge("A")], [])
    assert after(PayerHistory(), invoices) == PayerHistory(1, True)


def test_repeated_runs_over_changing_coverage_charge_each_participant_once_net() -> None:
    """A period billed after every change: the invoices' net equals the accrual rule."""

    def cover(number: str, end: date | None = None) -> CoverageRecord:
        return CoverageRecord(number, date(2025, 1, 1), end, "n", "DISDAG", PAYER, "DBHCHT")

    states = [
        [cover("A"), cover("B")],
        [cover("A"), cover("B")],  # unchanged
        [cover("A"), cover("B"), cover("C")],  # late enrolment
        [cover("A", date(2025, 1, 31)), cover("B"), cover("C")],  # backdated termination
        [cover("A", date(2025, 1, 31)), cover("B"), cover("C"), cover("D")],
    ]
    history = PayerHistory()
    charged: set[str] = set()
    issued = []
    for records in states:
        new = accrue(records, FEB, [TARIFF_2025], charged)
        gone = [charge(n) for n in to_credit(records, FEB, charged)]
        invoices = issue(FEB, {PAYER: history}, new, gone)
        history = after(history, invoices)
        charged = (charged | {c.membership_no for c in new}) - {c.membership_no for c in gone}
        issued += invoices
    assert [(i.seq, i.kind, i.totals.participants) for i in issued] == [
        (1, InvoiceKind.REGULAR, 2),
        (2, InvoiceKind.SUPPLEMENTARY, 1),
        (3, InvoiceKind.CREDIT, -1),
        (4, InvoiceKind.SUPPLEMENTARY, 1),
    ]
    assert sum(i.totals.amount for i in issued) == 3 * 16_800
    assert charged == {"B", "C", "D"}
