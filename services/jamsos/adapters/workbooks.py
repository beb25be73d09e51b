"""Files a clerk opens: the XLSX template to fill in and the result files (`.hasil.xlsx` and
`.hasil.csv`) with one line per input row. Everything a clerk reads is in Indonesian."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from jamsos.adapters.spreadsheet import EXAMPLE_NAME, EXAMPLE_NIK
from jamsos.domain.wilayah import kecamatan, villages
from jamsos.usecases.intake import ResultLine

TEMPLATE_HEADERS = (
    "NIK",
    "Nama Lengkap",
    "Tanggal Lahir",
    "Jenis Kelamin",
    "No. HP",
    "Desa/Kelurahan",
    "Kecamatan",
    "Alamat",
    "Pekerjaan",
    "ID DTSEN",
    "Desil",
    "Penghasilan",
)
_EXAMPLE = (
    EXAMPLE_NIK,
    EXAMPLE_NAME,
    "05-06-1990",
    "P",
    "081234567890",
    "Loram Kulon",
    "Jati",
    "Jl. Sunan Muria 4 RT 02 RW 01",
    "pedagang pasar",
    "",
    1,
    1500000,
)
_WIDTHS = (20, 30, 14, 14, 16, 22, 16, 34, 22, 16, 8, 14)
_TEXT_COLUMNS = ("A", "E", "J")  # NIK, No. HP, ID DTSEN: text, so Excel keeps every digit
_ROWS = 2000  # rows prepared with formats and drop-downs
_HEAD = Font(bold=True, color="FFFFFF")
_HEAD_FILL = PatternFill("solid", fgColor="1F4E78")
_GUIDE = (
    "Petunjuk pengisian",
    "",
    "1. Isi satu baris per pekerja di lembar 'Data', mulai baris 3 (atau ganti baris contoh).",
    "2. Baris contoh (CONTOH ...) tidak ikut dikirim; boleh dihapus.",
    "3. NIK 16 digit, diketik sebagai teks (kolom sudah berformat Teks).",
    "4. Tanggal Lahir: 05-06-1990, 5/6/1990 atau 5 Juni 1990.",
    "5. Jenis Kelamin: L (laki-laki) atau P (perempuan).",
    "6. Desa/Kelurahan dan Kecamatan: pilih dari daftar.",
    "7. Wajib: NIK, Nama Lengkap, Tanggal Lahir, Jenis Kelamin, Desa/Kelurahan, Pekerjaan.",
    "8. Satu NIK hanya boleh sekali dalam satu berkas.",
    "",
    "Kirim dengan: jamsos submit BERKAS.xlsx --agency KODE_OPD --wait",
    "Hasil per baris ditulis ke BERKAS.hasil.xlsx dan BERKAS.hasil.csv.",
)


def write_template(path: Path) -> None:
    """The template: header, text-formatted NIK/phone columns, drop-downs, an example row."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Data"
    sheet.append(list(TEMPLATE_HEADERS))
    sheet.append(list(_EXAMPLE))
    for cell in sheet[1]:
        cell.font, cell.fill = _HEAD, _HEAD_FILL
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="808080")
    for index, width in enumerate(_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + index)].width = width
    for column in _TEXT_COLUMNS:
        for row in range(2, _ROWS + 2):
            sheet[f"{column}{row}"].number_format = "@"
    sheet.freeze_panes = "A2"

    lists = book.create_sheet("Daftar")
    names = sorted({v.name for v in villages().values()})
    kecs = sorted(kecamatan().values())
    lists.append(["Jenis Kelamin", "Kecamatan", "Desa/Kelurahan"])
    for index in range(max(len(names), len(kecs))):
        lists.append(
            [
                ("L", "P")[index] if index < 2 else None,
                kecs[index] if index < len(kecs) else None,
                names[index] if index < len(names) else None,
            ]
        )
    lists.sheet_state = "hidden"
    for column, source, title in (
        ("D", "$A$2:$A$3", "Jenis Kelamin"),
        ("G", f"$B$2:$B${len(kecs) + 1}", "Kecamatan"),
        ("F", f"$C$2:$C${len(names) + 1}", "Desa/Kelurahan"),
    ):
        check = DataValidation(type="list", formula1=f"Daftar!{source}", allow_blank=True)
        check.error, check.errorTitle = f"Pilih {title} dari daftar", title
        check.add(f"{column}2:{column}{_ROWS + 1}")
        sheet.add_data_validation(check)
    guide = book.create_sheet("Petunjuk")
    for line in _GUIDE:
        guide.append([line])
    guide["A1"].font = Font(bold=True, size=14)
    guide.column_dimensions["A"].width = 100
    book.save(path)


RESULT_HEADERS = ("Baris", "NIK", "Nama", "Hasil", "Kode", "Keterangan", "Catatan")


def result_paths(source: Path) -> tuple[Path, Path]:
    """`<name>.hasil.xlsx` and `<name>.hasil.csv` beside the input file."""
    return (
        source.with_name(f"{source.stem}.hasil.xlsx"),
        source.with_name(f"{source.stem}.hasil.csv"),
    )


def write_results(source: Path, lines: Sequence[ResultLine]) -> tuple[Path, Path]:
    """Both result files, one line per input row; NIKs stay text in both."""
    xlsx_path, csv_path = result_paths(source)
    book = openpyxl.Workbook(write_only=True)  # streamed: 26,000 lines in seconds
    sheet = book.create_sheet("Hasil")
    for column, width in zip("ABCDEFG", (7, 20, 30, 26, 16, 70, 50), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    head = []
    for title in RESULT_HEADERS:
        cell = WriteOnlyCell(sheet, title)
        cell.font, cell.fill = _HEAD, _HEAD_FILL
        head.append(cell)
    sheet.append(head)
    for line in lines:
        nik = WriteOnlyCell(sheet, line.nik)
        nik.number_format = "@"
        sheet.append([line.row, nik, line.name, line.outcome, line.code, line.detail, line.note])
    book.save(xlsx_path)
    with csv_path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
        writer.writerow(RESULT_HEADERS)
        for line in lines:
            writer.writerow(
                [line.row, line.nik, line.name, line.outcome, line.code, line.detail, line.note]
            )
    return xlsx_path, csv_path
