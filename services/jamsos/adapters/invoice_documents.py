"""Invoice documents for the regency's finance office: the invoice as PDF (in Indonesian) and its
per-participant lines as CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import asyncpg
from fpdf import FPDF
from fpdf.fonts import FontFace

from jamsos.adapters import invoices
from jamsos.adapters.invoices import InvoiceDetail, by_funding_source
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.invoicing import due_date
from jamsos.domain.period import Period
from jamsos.domain.tariff import Tariff
from jamsos.indonesian import number, rupiah

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
    return await invoices.copy_charge_lines(conn, invoice_no, path)
