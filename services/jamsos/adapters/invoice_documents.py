"""Invoice documents for the regency's finance office: the invoice or credit note as a PDF letter
(in Indonesian, fonts embedded), exported with its per-participant lines as XLSX and CSV."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import asyncpg
from fpdf import FPDF
from fpdf.fonts import FontFace

from jamsos.adapters import invoices, tariff_table
from jamsos.adapters.charge_workbook import ChargeWorkbook
from jamsos.adapters.charge_workbook import write_xlsx as write_xlsx  # the tests write it directly
from jamsos.adapters.invoices import (
    InvoiceDetail,
    InvoiceRow,
    by_funding_source,
)
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.invoicing import due_date
from jamsos.domain.letterhead import Issuer, Letterhead, PaymentAccount, PaymentMethod
from jamsos.domain.period import Period
from jamsos.domain.tariff import Tariff, tariff_on
from jamsos.domain.terbilang import terbilang_rupiah
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


FONT = "DejaVuSansCondensed"
FONT_FILES = {"": "DejaVuSansCondensed.ttf", "B": "DejaVuSansCondensed-Bold.ttf"}
CONTENT_WIDTH = 170.0  # A4 less 20 mm margins
HEADING = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))
BOLD = FontFace(emphasis="BOLD")
SIGNATURE_HEIGHT = 45.0  # place and date, a two-line title, room to sign, name and NIP


class _Document(FPDF):
    """A4 portrait with the shipped DejaVu font embedded and "Halaman N dari M" in the footer."""

    def __init__(self, invoice_no: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.invoice_no = invoice_no
        fonts = resources.files("jamsos").joinpath("data/fonts")
        for style, name in FONT_FILES.items():
            self.add_font(FONT, style, Path(str(fonts.joinpath(name))))
        self.set_margins(20, 15, 20)
        self.set_auto_page_break(auto=True, margin=18)
        self.set_lang("id")
        self.set_creator("jamsos")

    def footer(self) -> None:
        self.set_y(-13)
        self.set_draw_color(160)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(FONT, "", 7.5)
        self.set_text_color(90)
        self.cell(0, 5, f"{self.invoice_no} · dibuat oleh jamsos", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Halaman {self.page_no()} dari {{nb}}", align="R")
        self.set_text_color(0)


def _letterhead(pdf: FPDF, issuer: Issuer) -> None:
    """Kop surat: regency and agency in capitals, the address, a double rule."""
    pdf.set_font(FONT, "B", 13)
    pdf.cell(0, 6.5, issuer.regency.upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 11.5)
    pdf.multi_cell(0, 6, issuer.agency.upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.cell(0, 5, issuer.address, align="C", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y() + 1.5
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_line_width(0.2)
    pdf.line(pdf.l_margin, y + 1.2, pdf.w - pdf.r_margin, y + 1.2)
    pdf.set_y(y + 5)


def _payer_name(payer_code: str) -> str:
    return PAYER_NAMES.get(payer_code, payer_code)


def _intro(invoice: InvoiceRow, period: Period, refers_to: str) -> str:
    programs = "iuran Jaminan Kecelakaan Kerja (JKK) dan Jaminan Kematian (JKM)"
    workers = "peserta Bukan Penerima Upah (pekerja rentan)"
    payer = _payer_name(invoice.payer_code)
    month = period_label(period)
    if invoice.kind == "CREDIT":
        return (
            f"Bersama ini kami sampaikan nota kredit atas {programs} periode {month} yang telah"
            f" ditagihkan pada {refers_to} untuk {workers} yang kepesertaannya berakhir sebelum"
            " periode tersebut, dengan rincian sebagai berikut:"
        )
    if invoice.kind == "SUPPLEMENTARY":
        return (
            f"Bersama ini kami sampaikan tagihan susulan {programs} periode {month} bagi"
            f" {workers} yang belum tercantum pada {refers_to}, yang iurannya menjadi tanggungan"
            f" {payer}, dengan rincian sebagai berikut:"
        )
    return (
        f"Bersama ini kami sampaikan tagihan {programs} periode {month} bagi {workers} yang"
        f" iurannya menjadi tanggungan {payer}, dengan rincian sebagai berikut:"
    )


def _payment_lines(
    invoice: InvoiceRow, period: Period, payment: PaymentAccount, refers_to: str
) -> list[str]:
    if invoice.kind == "CREDIT":
        return [
            "Nota kredit ini tidak perlu dibayar.",
            f"Jumlahnya ({rupiah(invoice.amount)}) mengurangi kewajiban iuran periode"
            f" {period_label(period)} dan diperhitungkan dengan {refers_to}.",
        ]
    account = "Virtual Account" if payment.method is PaymentMethod.VIRTUAL_ACCOUNT else "rekening"
    return [
        f"Transfer ke {account} {payment.bank} nomor {payment.account_no}"
        f" atas nama {payment.account_name}.",
        f"Jumlah yang dibayarkan {rupiah(invoice.amount)}, paling lambat"
        f" {date_label(due_date(period))} (jatuh tempo).",
        f"Cantumkan nomor tagihan {invoice.invoice_no} pada berita transfer.",
    ]


def _refers_label(detail: InvoiceDetail) -> str:
    numbers = detail.refers_to
    if not numbers:
        return "tagihan periode yang sama"
    return "tagihan nomor " + ", ".join(numbers)


def write_pdf(detail: InvoiceDetail, tariff: Tariff, letterhead: Letterhead, path: Path) -> None:
    """The invoice (or credit note) as a letter an Indonesian finance office files: letterhead,
    addressee, lines per agency and funding source, totals with the amount in words, payment
    instructions, signature block, page numbers. On a credit note participant counts are
    positive and amounts negative, and it cites the invoice(s) it corrects."""
    invoice = detail.invoice
    period = Period.parse(invoice.period)
    credit = invoice.kind == "CREDIT"
    issued = invoice.issued_at.astimezone(JAKARTA).date()
    refers_to = _refers_label(detail)
    title = (
        "Nota Kredit Iuran BPJS Ketenagakerjaan"
        if credit
        else ("Tagihan Iuran BPJS Ketenagakerjaan")
    )
    pdf = _Document(invoice.invoice_no)
    pdf.set_title(f"{title} {invoice.invoice_no}")
    pdf.set_author(f"{letterhead.issuer.regency}, {letterhead.issuer.agency}")
    pdf.add_page()
    _letterhead(pdf, letterhead.issuer)

    pdf.set_font(FONT, "B", 12)
    pdf.cell(0, 6.5, title.upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.cell(0, 5.5, f"Nomor: {invoice.invoice_no}", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    top = pdf.get_y()
    pdf.set_font(FONT, "", 9.5)
    pdf.multi_cell(
        78,
        5,
        f"Kepada Yth.\n**{letterhead.addressee.name}**\n{letterhead.addressee.address}\ndi tempat",
        align="L",
        markdown=True,
        new_x="LMARGIN",
        new_y="NEXT",
    )
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    paid = invoice.paid_at.astimezone(JAKARTA).date() if invoice.paid_at else None
    facts = [
        ("Jenis", KIND_LABELS.get(invoice.kind, invoice.kind)),
        ("Tanggal", date_label(issued)),
        ("Periode", f"{period_label(period)} ({invoice.period})"),
        ("Pembayar", _payer_name(invoice.payer_code)),
    ]
    if credit:
        facts.append(("Koreksi atas", ", ".join(detail.refers_to) or "-"))
    else:
        if detail.refers_to:
            facts.append(("Melengkapi", ", ".join(detail.refers_to)))
        facts += [
            ("Jatuh tempo", date_label(due_date(period))),
            ("Status", f"Lunas ({date_label(paid)})" if paid else "Belum dibayar"),
        ]
    with pdf.table(
        col_widths=(27, 60),
        width=87,
        align="RIGHT",
        first_row_as_headings=False,
        text_align="LEFT",
        borders_layout="NONE",
        line_height=5,
        padding=(0, 1),
    ) as table:
        for label, value in facts:
            row = table.row()
            row.cell(label, style=BOLD)
            row.cell(value)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 4)

    pdf.set_font(FONT, "", 9.5)
    pdf.multi_cell(0, 5, _intro(invoice, period, refers_to), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2.5)

    sign = -1 if credit else 1  # a credit note stores negative counts; people read them positive
    pdf.set_font(FONT, "", 8.5)
    with pdf.table(
        col_widths=(8, 56, 18, 16, 24, 24, 24),
        text_align=("RIGHT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=HEADING,
        line_height=4.8,
    ) as table:
        table.row(
            ["No", "OPD", "Sumber dana", "Jumlah peserta", "JKK (Rp)", "JKM (Rp)", "Jumlah (Rp)"]
        )
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
                    number(sign * line.participants),
                    number(line.jkk),
                    number(line.jkm),
                    number(line.amount),
                ]
            )
        total = table.row(style=BOLD)
        total.cell("Total", colspan=3, align="LEFT")
        for value in (
            number(sign * invoice.participants),
            number(invoice.jkk),
            number(invoice.jkm),
            number(invoice.amount),
        ):
            total.cell(value, align="RIGHT")
        words = terbilang_rupiah(invoice.amount)
        said = table.row()
        said.cell(f"Terbilang: {words[0].upper()}{words[1:]}", colspan=7, align="LEFT", style=BOLD)
    pdf.set_font(FONT, "", 8)
    pdf.cell(
        0,
        5,
        f"Iuran per peserta per bulan: JKK {rupiah(tariff.jkk)} + JKM {rupiah(tariff.jkm)}"
        f" = {rupiah(tariff.total)}.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)

    pdf.set_font(FONT, "B", 9.5)
    heading = "Keterangan" if credit else "Cara pembayaran"
    pdf.cell(0, 6, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    payment = _payment_lines(invoice, period, letterhead.payment, refers_to)
    payment.append(
        f"Rincian per peserta: berkas {invoice.invoice_no}.xlsx (juga {invoice.invoice_no}.csv)."
    )
    for i, text in enumerate(payment, start=1):
        pdf.cell(6, 5, f"{i}.")
        pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    if pdf.will_page_break(SIGNATURE_HEIGHT):
        pdf.add_page()
    top = pdf.get_y()
    _by_funding_source(pdf, detail)
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    _signature(pdf, letterhead, issued)
    pdf.set_y(max(left_bottom, pdf.get_y()))
    pdf.output(str(path))


def _by_funding_source(pdf: FPDF, detail: InvoiceDetail) -> None:
    """Totals per budget line, the way the regency's budget is split (APBD, DBHCHT)."""
    pdf.set_font(FONT, "B", 9.5)
    pdf.cell(0, 6, "Rekapitulasi per sumber dana", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 8.5)
    with pdf.table(
        col_widths=(50, 35),
        width=85,
        align="LEFT",
        headings_style=HEADING,
        text_align=("LEFT", "RIGHT"),
        line_height=4.8,
    ) as table:
        table.row(["Sumber dana", "Jumlah"])
        for source, amount in sorted(by_funding_source(detail.lines).items()):
            table.row([source, rupiah(amount)])


def _signature(pdf: FPDF, letterhead: Letterhead, day: dt.date) -> None:
    """Place and date, the signatory's title, room to sign, the name underlined and the NIP."""
    signatory = letterhead.signatory
    x, width = pdf.w - pdf.r_margin - 75, 75.0
    pdf.set_font(FONT, "", 9.5)
    pdf.set_x(x)
    pdf.multi_cell(width, 5, f"{letterhead.issuer.city}, {date_label(day)}", align="C")
    pdf.set_x(x)
    pdf.multi_cell(width, 5, signatory.title, align="C", new_x="LEFT", new_y="NEXT")
    pdf.ln(18)
    pdf.set_x(x)
    pdf.set_font(FONT, "BU", 9.5)
    pdf.multi_cell(width, 5, signatory.name, align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", 9.5)
    pdf.set_x(x)
    pdf.multi_cell(width, 5, f"NIP {signatory.nip}", align="C", new_x="LEFT", new_y="NEXT")


@dataclass(frozen=True)
class Exported:
    """The files `export_invoice` wrote."""

    pdf: Path
    xlsx: Path
    csv: Path
    participants: int


async def export_invoice(
    conn: asyncpg.Connection, invoice_no: str, letterhead: Letterhead, out_dir: Path
) -> Exported | None:
    """Write INVOICE.pdf, INVOICE.xlsx and INVOICE.csv into `out_dir`, all three from one
    snapshot of the database; None when there is no such invoice."""
    csv_path = out_dir / f"{invoice_no}.csv"
    xlsx_path = out_dir / f"{invoice_no}.xlsx"
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        detail = await invoices.invoice_detail(conn, invoice_no)
        if detail is None:
            return None
        period = Period.parse(detail.invoice.period)
        tariff = tariff_on(await tariff_table.tariffs(conn), period.first_day)
        count = await write_charge_workbook(conn, invoice_no, xlsx_path)
        await invoices.copy_charge_lines(conn, invoice_no, csv_path)
    exported = Exported(out_dir / f"{invoice_no}.pdf", xlsx_path, csv_path, count)
    write_pdf(detail, tariff, letterhead, exported.pdf)
    return exported


async def write_charge_workbook(conn: asyncpg.Connection, invoice_no: str, path: Path) -> int:
    """The invoice's lines streamed from a cursor into the clerk's workbook (in the caller's
    transaction); returns the line count."""
    book = ChargeWorkbook(path)
    async for line in invoices.stream_charge_lines(conn, invoice_no):
        book.append(line)
    book.close()
    return book.count
