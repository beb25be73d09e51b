"""The invoice, supplementary invoice and credit note as PDF letters, and the per-participant
workbook: rendered from values (no database), read back as text, fonts and pixels."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from jamsos.adapters.invoice_documents import write_pdf, write_xlsx
from jamsos.adapters.invoices import AgencyLine, ChargeLine, InvoiceDetail, InvoiceRow
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.letterhead import Letterhead, PaymentMethod
from jamsos.domain.tariff import TARIFF_2025
from jamsos.settings import load_settings
from tests.documents import page_texts, render_png, text_fonts

REGULAR = "JMS-PEMKAB-KUDUS-202502-01"
NAMES = {"DISDAG": "Dinas Perdagangan", "DINSOS": "Dinas Sosial", "DISHUB": "Dinas Perhubungan"}
FUNDING = {"DISDAG": "DBHCHT", "DINSOS": "APBD", "DISHUB": "APBD"}


@pytest.fixture
def letterhead(tmp_path: Path) -> Letterhead:
    return load_settings(env={}, cwd=tmp_path).letterhead


def line(agency: str, participants: int) -> AgencyLine:
    jkk, jkm = participants * TARIFF_2025.jkk, participants * TARIFF_2025.jkm
    name = NAMES.get(agency, agency)
    return AgencyLine(agency, name, FUNDING.get(agency, "APBD"), participants, jkk, jkm, jkk + jkm)


def detail(
    kind: str, seq: int, lines: list[AgencyLine], refers_to: tuple[str, ...] = ()
) -> InvoiceDetail:
    row = InvoiceRow(
        invoice_no=f"JMS-PEMKAB-KUDUS-202502-{seq:02d}",
        kind=kind,
        payer_code="PEMKAB-KUDUS",
        period="2025-02",
        seq=seq,
        issued_at=dt.datetime(2025, 2, 3, 9, tzinfo=JAKARTA),
        participants=sum(x.participants for x in lines),
        jkk=sum(x.jkk for x in lines),
        jkm=sum(x.jkm for x in lines),
        amount=sum(x.amount for x in lines),
        status="ISSUED",
        paid_at=None,
    )
    return InvoiceDetail(row, lines, refers_to)


def rendered(doc: InvoiceDetail, letterhead: Letterhead, tmp_path: Path) -> list[str]:
    path = tmp_path / f"{doc.invoice.invoice_no}.pdf"
    write_pdf(doc, TARIFF_2025, letterhead, path)
    width, height, dark = render_png(path, tmp_path / f"{doc.invoice.invoice_no}.png")
    assert (round(width / 10), round(height / 10)) == (60, 84)  # A4 portrait at 72 dpi
    assert dark > 5_000  # letterhead, tables and signature are drawn
    return page_texts(path)


@pytest.fixture(scope="module")
def regular(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], Letterhead]:
    """A REGULAR invoice of three agencies, written once for this module: its path, its
    pages' text, and the letterhead it was written with."""
    tmp_path = tmp_path_factory.mktemp("regular")
    letterhead = load_settings(env={}, cwd=tmp_path).letterhead
    doc = detail("REGULAR", 1, [line("DISDAG", 3), line("DINSOS", 2), line("DISHUB", 2)])
    return tmp_path / f"{REGULAR}.pdf", rendered(doc, letterhead, tmp_path), letterhead


def test_invoice_pdf_has_letterhead_addressee_terbilang_payment_and_signature(
    regular: tuple[Path, list[str], Letterhead],
) -> None:
    _, [text], letterhead = regular
    for expected in (
        "PEMERINTAH KABUPATEN KUDUS",
        "DINAS TENAGA KERJA, PERINDUSTRIAN, KOPERASI DAN UKM",
        letterhead.issuer.address,
        "TAGIHAN IURAN BPJS KETENAGAKERJAAN",
        f"Nomor: {REGULAR}",
        f"Kepada Yth. {letterhead.addressee.name}",
        "Periode Februari 2025 (2025-02)",
        "Jatuh tempo 15 Februari 2025",
        "Dinas Perdagangan (DISDAG) DBHCHT 3 30.000 20.400 50.400",
        "Total 7 70.000 47.600 117.600",
        "Terbilang: Seratus tujuh belas ribu enam ratus rupiah",
        f"Transfer ke Virtual Account {letterhead.payment.bank} nomor"
        f" {letterhead.payment.account_no} atas nama {letterhead.payment.account_name}",
        f"Cantumkan nomor tagihan {REGULAR} pada berita transfer",
        "Kudus, 3 Februari 2025",
        letterhead.signatory.title,
        letterhead.signatory.name,
        f"NIP {letterhead.signatory.nip}",
        "Halaman 1 dari 1",
    ):
        assert expected in text, expected


def test_invoice_pdf_embeds_every_font_it_uses(
    regular: tuple[Path, list[str], Letterhead],
) -> None:
    fonts = text_fonts(regular[0])
    assert fonts, "no text drawn"
    assert all(fonts.values()), fonts  # a PDF/A-minded office needs no font on its machine
    assert {name.split("+")[-1] for name in fonts} == {
        "DejaVuSansCondensed",
        "DejaVuSansCondensedBold",
    }


def test_credit_note_pdf_cites_corrected_invoice_with_positive_counts_and_negative_amounts(
    letterhead: Letterhead, tmp_path: Path
) -> None:
    credited = [line("DINSOS", -1), line("DISDAG", -2)]  # stored negative, like the ledger
    [text] = rendered(detail("CREDIT", 2, credited, (REGULAR,)), letterhead, tmp_path)
    for expected in (
        "NOTA KREDIT IURAN BPJS KETENAGAKERJAAN",
        "Nomor: JMS-PEMKAB-KUDUS-202502-02",
        f"Koreksi atas {REGULAR}",
        f"telah ditagihkan pada tagihan nomor {REGULAR}",
        "Dinas Perdagangan (DISDAG) DBHCHT 2 -20.000 -13.600 -33.600",
        "Total 3 -30.000 -20.400 -50.400",
        "Terbilang: Minus lima puluh ribu empat ratus rupiah",
        "Nota kredit ini tidak perlu dibayar",
        f"NIP {letterhead.signatory.nip}",
    ):
        assert expected in text, expected
    assert "Jatuh tempo" not in text and "Virtual Account" not in text


def test_supplementary_pdf_cites_the_regular_invoice_it_completes(
    letterhead: Letterhead, tmp_path: Path
) -> None:
    [text] = rendered(
        detail("SUPPLEMENTARY", 2, [line("DINSOS", 1)], (REGULAR,)), letterhead, tmp_path
    )
    assert "Jenis Tagihan susulan" in text
    assert f"Melengkapi {REGULAR}" in text
    assert f"belum tercantum pada tagihan nomor {REGULAR}" in text
    assert "Terbilang: Enam belas ribu delapan ratus rupiah" in text
    assert "Jumlah yang dibayarkan Rp16.800, paling lambat 15 Februari 2025" in text


def test_invoice_pdf_with_many_lines_numbers_every_page_of_the_total(
    letterhead: Letterhead, tmp_path: Path
) -> None:
    lines = [line(f"OPD{i:02d}", i) for i in range(1, 61)]
    path = tmp_path / "long.pdf"
    write_pdf(detail("REGULAR", 1, lines), TARIFF_2025, letterhead, path)
    texts = page_texts(path)
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert text.endswith(f"Halaman {number} dari {len(texts)}"), text[-60:]
    assert f"NIP {letterhead.signatory.nip}" in texts[-1]


def test_invoice_pdf_to_a_bank_account_says_rekening(
    letterhead: Letterhead, tmp_path: Path
) -> None:
    bank = replace(letterhead.payment, method=PaymentMethod.BANK_ACCOUNT, account_no="1-234-567")
    [text] = rendered(
        detail("REGULAR", 1, [line("DISDAG", 1)]), replace(letterhead, payment=bank), tmp_path
    )
    assert f"Transfer ke rekening {bank.bank} nomor 1-234-567" in text


def test_participant_workbook_keeps_nik_as_text_and_sums_the_amounts(tmp_path: Path) -> None:
    niks = ["3319014506900001", "0319010101900002"]  # a leading zero survives too
    lines = [
        ChargeLine(
            REGULAR, "2025-02", f"25{i:09d}", nik, "Siti", "DISDAG", "DBHCHT", 10_000, 6_800, 16_800
        )
        for i, nik in enumerate(niks)
    ]
    path = tmp_path / "lines.xlsx"
    write_xlsx(lines, path)
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("No. Tagihan", "Periode", "No. Kepesertaan", "NIK")
    assert [r[3] for r in rows[1:3]] == niks
    assert all(sheet.cell(row=r, column=4).number_format == "@" for r in (2, 3))
    assert isinstance(sheet.cell(row=2, column=10).value, int)
    assert rows[-1][0] == "Total" and rows[-1][-1] == 2 * 16_800
