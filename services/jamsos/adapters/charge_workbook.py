"""An invoice's per-participant lines as the XLSX workbook a finance clerk opens."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from jamsos.adapters.invoices import ChargeLine
from jamsos.indonesian import number

XLSX_HEADERS = (
    "No. Tagihan",
    "Periode",
    "No. Kepesertaan",
    "NIK",
    "Nama",
    "OPD",
    "Sumber Dana",
    "JKK",
    "JKM",
    "Jumlah",
)
RUPIAH_FORMAT = "#,##0"


def write_xlsx(lines: Sequence[ChargeLine], path: Path) -> None:
    """The per-participant lines as a workbook a clerk opens: NIK and membership number are
    text cells (format `@`), amounts numbers with thousands separators, a total row."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Rincian peserta")
    for column, width in zip("ABCDEFGHIJ", (28, 9, 16, 19, 28, 18, 12, 11, 11, 12), strict=True):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value: object, fmt: str = "General", font: Font | None = None) -> WriteOnlyCell:
        result = WriteOnlyCell(sheet, value=value)
        result.number_format = fmt
        if font is not None:
            result.font = font
        return result

    sheet.append([cell(h, font=bold) for h in XLSX_HEADERS])
    # One styled cell per column, refilled for every row: a write-only sheet serialises each row
    # as it is appended, and styling 260,000 fresh cells would cost more than writing them.
    row = [
        cell(None, fmt)
        for fmt in ("General", "@", "@", "@", "General", "General", "General")
        + (RUPIAH_FORMAT,) * 3
    ]
    for line in lines:
        for target, value in zip(row, dataclasses.astuple(line), strict=True):
            target.value = value
        sheet.append(row)
    totals = (sum(x.jkk for x in lines), sum(x.jkm for x in lines), sum(x.jumlah for x in lines))
    sheet.append(
        [
            cell("Total", font=bold),
            *[cell(None)] * 3,
            cell(f"{number(len(lines))} peserta", font=bold),
        ]
        + [cell(None)] * 2
        + [cell(v, RUPIAH_FORMAT, bold) for v in totals]
    )
    book.save(path)
