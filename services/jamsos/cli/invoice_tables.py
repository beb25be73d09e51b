"""Invoices and their lines as console tables (`jamsos bill`, `invoice list|show`, the demo).

Times are Asia/Jakarta (WIB), as clerks read them. A credit note's participant counts are shown
positive next to its negative amounts, as on its PDF: "2 participants, −Rp33.600"; the stored
rows and the JSON keep the contract's negative counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from jamsos.domain.coverage import JAKARTA
from jamsos.indonesian import number, rupiah

if TYPE_CHECKING:
    from jamsos.adapters.invoices import InvoiceDetail, InvoiceRow


def wib(moment: dt.datetime | None) -> str:
    """`2025-02-03 09:00` in Asia/Jakarta, or `-`."""
    return "-" if moment is None else moment.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M")


def json_value(value: Any) -> str:
    """`json.dumps(default=…)` for invoices: timestamps as ISO 8601 in WIB (+07:00)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(JAKARTA).isoformat()
    return str(value)


def _count(kind: str, participants: int) -> str:
    return number(abs(participants) if kind == "CREDIT" else participants)


def invoice_table(rows: Sequence[InvoiceRow], title: str = "Invoices") -> Table:
    """Invoices as a console table."""
    table = Table(
        "invoice",
        "kind",
        "period",
        "issued (WIB)",
        "participants",
        "JKK",
        "JKM",
        "amount",
        "status",
        title=title,
    )
    for r in rows:
        table.add_row(
            r.invoice_no,
            r.kind,
            r.period,
            wib(r.issued_at),
            _count(r.kind, r.participants),
            rupiah(r.jkk),
            rupiah(r.jkm),
            rupiah(r.amount),
            "-" if r.kind == "CREDIT" else _status(r),
        )
    return table


def _status(invoice: InvoiceRow) -> str:
    return f"PAID {wib(invoice.paid_at)}" if invoice.paid_at is not None else invoice.status


def lines_table(detail: InvoiceDetail) -> Table:
    """An invoice's lines per agency and funding source, with the totals."""
    invoice = detail.invoice
    status = "" if invoice.kind == "CREDIT" else f", {_status(invoice)}"
    table = Table(
        "agency",
        "funding",
        "participants",
        "JKK",
        "JKM",
        "amount",
        title=f"{invoice.invoice_no} ({invoice.kind}, {invoice.period},"
        f" issued {wib(invoice.issued_at)} WIB{status})",
    )
    for line in detail.lines:
        table.add_row(
            line.agency_code,
            line.funding_source,
            _count(invoice.kind, line.participants),
            rupiah(line.jkk),
            rupiah(line.jkm),
            rupiah(line.amount),
        )
    table.add_row(
        "Total",
        "",
        _count(invoice.kind, invoice.participants),
        rupiah(invoice.jkk),
        rupiah(invoice.jkm),
        rupiah(invoice.amount),
        style="bold",
    )
    return table
