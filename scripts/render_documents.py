"""Render a realistic invoice and credit note to PDF and PNG (docs/images/invoice.png,
docs/images/credit-note.png) with the packaged letterhead defaults.

    .venv/bin/python scripts/render_documents.py [OUT_DIR]

The figures are those of a full regency: 26,000 participants over six agencies, Rp436.800.000
for February 2025; the credit note takes back three participants whose coverage ended in January.
Needs the dev dependencies (pypdfium2 renders the pages).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pypdfium2 as pdfium

from jamsos.adapters.invoice_documents import write_pdf
from jamsos.adapters.invoices import AgencyLine, InvoiceDetail, InvoiceRow
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.tariff import TARIFF_2025
from jamsos.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
AGENCIES = {  # code: (name, funding source, participants)
    "BPBD": ("Badan Penanggulangan Bencana Daerah", "APBD", 1_200),
    "DINSOS": ("Dinas Sosial", "APBD", 7_300),
    "DISDAG": ("Dinas Perdagangan", "DBHCHT", 6_200),
    "DISHUB": ("Dinas Perhubungan", "APBD", 3_800),
    "DISNAKERPERINKOP": ("Dinas Tenaga Kerja, Perindustrian, Koperasi dan UKM", "DBHCHT", 4_500),
    "DISPERTANPANGAN": ("Dinas Pertanian dan Pangan", "DBHCHT", 3_000),
}
REGULAR = "JMS-PEMKAB-KUDUS-202502-01"
CREDIT = "JMS-PEMKAB-KUDUS-202502-02"


def _line(code: str, participants: int) -> AgencyLine:
    name, funding, _ = AGENCIES[code]
    jkk, jkm = participants * TARIFF_2025.jkk, participants * TARIFF_2025.jkm
    return AgencyLine(code, name, funding, participants, jkk, jkm, jkk + jkm)


def _detail(
    invoice_no: str,
    kind: str,
    seq: int,
    issued: dt.datetime,
    lines: list[AgencyLine],
    refers_to: tuple[str, ...] = (),
) -> InvoiceDetail:
    row = InvoiceRow(
        invoice_no=invoice_no,
        kind=kind,
        payer_code="PEMKAB-KUDUS",
        period="2025-02",
        seq=seq,
        issued_at=issued,
        participants=sum(x.participants for x in lines),
        jkk=sum(x.jkk for x in lines),
        jkm=sum(x.jkm for x in lines),
        amount=sum(x.amount for x in lines),
        status="ISSUED",
        paid_at=None,
    )
    return InvoiceDetail(row, lines, refers_to)


def sample_invoice() -> InvoiceDetail:
    """February 2025's regular invoice for 26,000 participants."""
    lines = [_line(code, n) for code, (_, _, n) in AGENCIES.items()]
    return _detail(REGULAR, "REGULAR", 1, dt.datetime(2025, 2, 1, 8, tzinfo=JAKARTA), lines)


def sample_credit_note() -> InvoiceDetail:
    """The credit note for three participants whose coverage ended in January."""
    lines = [_line("DINSOS", -1), _line("DISDAG", -2)]
    issued = dt.datetime(2025, 2, 20, 10, tzinfo=JAKARTA)
    return _detail(CREDIT, "CREDIT", 2, issued, lines, (REGULAR,))


def render(pdf_path: Path, png_path: Path, scale: float = 1.5) -> None:
    """The PDF's first page as PNG."""
    document = pdfium.PdfDocument(str(pdf_path))
    document[0].render(scale=scale).to_pil().convert("RGB").save(png_path, optimize=True)
    document.close()


def main(out_dir: Path) -> None:
    images = ROOT / "docs" / "images"
    images.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    letterhead = load_settings(env={}, cwd=out_dir).letterhead
    for detail, name in ((sample_invoice(), "invoice"), (sample_credit_note(), "credit-note")):
        pdf = out_dir / f"{detail.invoice.invoice_no}.pdf"
        write_pdf(detail, TARIFF_2025, letterhead, pdf)
        render(pdf, images / f"{name}.png")
        print(f"wrote {pdf} and {images / f'{name}.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".state" / "documents")
