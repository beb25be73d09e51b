"""Invoice documents for the regency's finance office: the invoice as PDF (in Indonesian), its
per-participant lines as CSV, and console tables of invoices."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from fpdf import FPDF
from fpdf.fonts import FontFace
from rich.table import Table

from jamsos.adapters import views_billing
from jamsos.adapters.views_billing import InvoiceDetail, InvoiceRow, by_funding_source
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.invoicing import due_date
from jamsos.domain.period import Period
from jamsos.domain.tariff import Tariff

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
KIND_LABELS = {
    "REGULAR": "Tagihan reguler",
    "SUPPLEMENTARY": "Tagihan susulan",
    "CREDIT": "Nota kredit",
}
PAYER_NAMES = {"PEMKAB-KUDUS": "Pemerintah Kabupaten Kudus"}


def rupiah(amount: int) -> str:
    """Whole Rupiah the Indonesian way: Rp16.800, -Rp16.800."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")


def number(value: int) -> str:
    """A count with Indonesian thousands separators: 26.000."""
    return f"{value:,}".replace(",", ".")


def period_label(period: Period) -> str:
    """`Februari 2025`."""
    return f"{MONTHS[period.month - 1]} {period.year}"


def date_label(day: dt.date) -> str:
    """`15 Februari 2025`."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def write_pdf(detail: InvoiceDetail, tariff: Tariff, path: Path) -> None:
    """The invoice (or credit note) with its lines per agency and funding source, and totals."""
    invoice = detail.invoice
    period = Period.parse(invoice.period)
    credit = invoice.kind == "CREDIT"
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(f"{invoice.invoice_no}")
    pdf.set_author("jamsos")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    title = "Nota Kredit" if credit else "Tagihan"
    pdf.cell(0, 9, f"{title} Iuran BPJS Ketenagakerjaan", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(
        0,
        6,
        "Peserta Bukan Penerima Upah (pekerja rentan) yang iurannya dibayar"
        " Pemerintah Kabupaten Kudus",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)

    paid = invoice.paid_at.astimezone(JAKARTA).date() if invoice.paid_at else None
    facts = [
        ("Nomor", invoice.invoice_no),
        ("Jenis", KIND_LABELS.get(invoice.kind, invoice.kind)),
        (
            "Pembayar",
            f"{PAYER_NAMES.get(invoice.payer_code, invoice.payer_code)} ({invoice.payer_code})",
        ),
        ("Periode", f"{period_label(period)} ({invoice.period})"),
        ("Tanggal terbit", date_label(invoice.issued_at.astimezone(JAKARTA).date())),
        ("Jatuh tempo", "-" if credit else date_label(due_date(period))),
        ("Status", "-" if credit else (f"Lunas ({date_label(paid)})" if paid else "Belum dibayar")),
        (
            "Iuran per peserta per bulan",
            f"JKK {rupiah(tariff.jkk)} + JKM {rupiah(tariff.jkm)} = {rupiah(tariff.total)}",
        ),
    ]
    with pdf.table(
        col_widths=(55, 135),
        first_row_as_headings=False,
        text_align="LEFT",
        borders_layout="NONE",
        line_height=6,
    ) as table:
        for label, value in facts:
            row = table.row()
            row.cell(label, style=FontFace(emphasis="BOLD"))
            row.cell(value)
    pdf.ln(5)

    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Rincian per OPD dan sumber dana", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    heading = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))
    with pdf.table(
        col_widths=(8, 58, 24, 22, 26, 26, 26),
        text_align=("RIGHT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=heading,
        line_height=5.5,
    ) as table:
        table.row(["No", "OPD", "Sumber dana", "Jumlah peserta", "JKK", "JKM", "Jumlah"])
        for i, line in enumerate(detail.lines, start=1):
            agency = (
                line.agency_code
                if line.agency_name == line.agency_code
                else f"{line.agency_name} ({line.agency_code})"
            )
            table.row(
                [
                    str(i),
                    agency,
                    line.funding_source,
                    number(line.participants),
                    rupiah(line.jkk),
                    rupiah(line.jkm),
                    rupiah(line.amount),
                ]
            )
        total = table.row(style=FontFace(emphasis="BOLD"))
        total.cell("Total", colspan=3, align="LEFT")
        for value in (
            number(invoice.participants),
            rupiah(invoice.jkk),
            rupiah(invoice.jkm),
            rupiah(invoice.amount),
        ):
            total.cell(value, align="RIGHT")
    pdf.ln(5)

    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Rekapitulasi per sumber dana", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    with pdf.table(
        col_widths=(60, 40),
        width=100,
        align="LEFT",
        headings_style=heading,
        text_align=("LEFT", "RIGHT"),
        line_height=5.5,
    ) as table:
        table.row(["Sumber dana", "Jumlah"])
        for source, amount in sorted(by_funding_source(detail.lines).items()):
            table.row([source, rupiah(amount)])
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 8)
    note = (
        "Nota kredit ini mengurangi tagihan periode yang sama."
        if credit
        else "Iuran dibayarkan paling lambat tanggal 15 bulan iuran."
    )
    pdf.multi_cell(
        0,
        4.5,
        f"{note} Rincian per peserta: berkas {invoice.invoice_no}.csv."
        " Dokumen ini dibuat oleh jamsos.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.output(str(path))


async def write_csv(conn: asyncpg.Connection, invoice_no: str, path: Path) -> int:
    """The invoice's per-participant lines as CSV; returns how many lines were written."""
    return await views_billing.copy_charge_lines(conn, invoice_no, path)


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
