"""`invoice list|show` in the terminal: times in WIB, a credit note's counts positive next to
its negative amounts (as on its PDF), JSON timestamps in WIB."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from rich.console import Console
from rich.table import Table

from jamsos.adapters.invoices import AgencyLine, InvoiceDetail, InvoiceRow
from jamsos.cli.invoice_tables import invoice_table, json_value, lines_table

UTC_ISSUED = dt.datetime(2025, 2, 3, 2, 0, tzinfo=dt.UTC)  # 09:00 WIB, as PostgreSQL returns it


def row(kind: str, sign: int, paid_at: dt.datetime | None = None) -> InvoiceRow:
    return InvoiceRow(
        invoice_no=f"JMS-PEMKAB-KUDUS-202502-0{1 if sign > 0 else 2}",
        kind=kind,
        payer_code="PEMKAB-KUDUS",
        period="2025-02",
        seq=1 if sign > 0 else 2,
        issued_at=UTC_ISSUED,
        participants=sign * 2,
        jkk=sign * 20_000,
        jkm=sign * 13_600,
        amount=sign * 33_600,
        status="PAID" if paid_at else "ISSUED",
        paid_at=paid_at,
    )


def text(table: Table) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_invoice_list_shows_issue_and_payment_times_in_wib() -> None:
    paid = dt.datetime(2025, 2, 14, 5, 0, tzinfo=dt.UTC)
    out = text(invoice_table([row("REGULAR", 1, paid_at=paid)]))
    assert "2025-02-03 09:00" in out and "PAID 2025-02-14 12:00" in out
    assert "02:00" not in out


def test_credit_note_counts_are_positive_and_amounts_negative() -> None:
    credit = row("CREDIT", -1)
    listed = text(invoice_table([credit]))
    assert "│ 2 " in listed and "│ -2 " not in listed and "-Rp33.600" in listed
    line = AgencyLine("DISDAG", "Dinas Perdagangan", "DBHCHT", -2, -20_000, -13_600, -33_600)
    shown = text(lines_table(InvoiceDetail(credit, [line])))
    assert "│ -2 " not in shown and shown.count("│ 2 ") == 2  # the line and the total
    assert shown.count("-Rp33.600") == 2
    assert "issued 2025-02-03 09:00" in shown


def test_invoice_json_has_timestamps_in_wib_and_the_stored_counts() -> None:
    data = json.loads(json.dumps(dataclasses.asdict(row("CREDIT", -1)), default=json_value))
    assert data["issued_at"] == "2025-02-03T09:00:00+07:00"
    assert data["participants"] == -2  # the contract's sign, for programs
