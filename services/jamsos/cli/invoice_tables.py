"""Invoices and their lines as console tables (`jamsos bill`, `invoice list|show`, the demo)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from jamsos.adapters.invoices import InvoiceDetail, InvoiceRow
from jamsos.indonesian import number, rupiah


def invoice_table(rows: Sequence[InvoiceRow], title: str = "Invoices") -> Table:
    """Invoices as a console table."""
    table = Table(
        "invoice", "kind", "period", "participants", "JKK", "JKM", "amount", "status", title=title
    )
    for r in rows:
        table.add_row(
            r.invoice_no,
            r.kind,
            r.period,
            number(r.participants),
            rupiah(r.jkk),
            rupiah(r.jkm),
            rupiah(r.amount),
            "-" if r.kind == "CREDIT" else r.status,
        )
    return table


def lines_table(detail: InvoiceDetail) -> Table:
    """An invoice's lines per agency and funding source, with the totals."""
    invoice = detail.invoice
    table = Table(
        "agency",
        "funding",
        "participants",
        "JKK",
        "JKM",
        "amount",
        title=f"{invoice.invoice_no} ({invoice.kind}, {invoice.period}, "
        f"{'-' if invoice.kind == 'CREDIT' else invoice.status})",
    )
    for line in detail.lines:
        table.add_row(
            line.agency_code,
            line.funding_source,
            number(line.participants),
            rupiah(line.jkk),
            rupiah(line.jkm),
            rupiah(line.amount),
        )
    table.add_row(
        "Total",
        "",
        number(invoice.participants),
        rupiah(invoice.jkk),
        rupiah(invoice.jkm),
        rupiah(invoice.amount),
        style="bold",
    )
    return table
