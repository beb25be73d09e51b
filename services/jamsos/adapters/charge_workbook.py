"""An invoice's per-participant lines as the XLSX workbook a finance clerk opens."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
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


class ChargeWorkbook:
    """The per-participant lines as a workbook a clerk opens, written a line at a time (a
    write-only sheet serialises each row as it is appended, so memory stays flat whatever the
    count): NIK and membership number are text cells (format `@`), amounts numbers with
    thousands separators, a total row at `close`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.book = openpyxl.Workbook(write_only=True)
        self.sheet = self.book.create_sheet("Rincian peserta")
        widths = (28, 9, 16, 19, 28, 18, 12, 11, 11, 12)
        for column, width in zip("ABCDEFGHIJ", widths, strict=True):
            self.sheet.column_dimensions[column].width = width
        self.sheet.freeze_panes = "A2"
        self.bold = Font(bold=True)
        self.sheet.append([self._cell(h, font=self.bold) for h in XLSX_HEADERS])
        # One styled cell per column, refilled for every row: styling 260,000 fresh cells
        # would cost more than writing them.
        self.row = [
            self._cell(None, fmt)
            for fmt in ("General", "@", "@", "@", "General", "General", "General")
            + (RUPIAH_FORMAT,) * 3
        ]
        self.count = 0
        self.totals = [0, 0, 0]

    def _cell(self, value: object, fmt: str = "General", font: Font | None = None) -> WriteOnlyCell:
        result = WriteOnlyCell(self.sheet, value=value)
        result.number_format = fmt
        if font is not None:
            result.font = font
        return result

    def append(self, line: ChargeLine) -> None:
        for target, value in zip(self.row, dataclasses.astuple(line), strict=True):
            target.value = value
        self.sheet.append(self.row)
        self.count += 1
        self.totals[0] += line.jkk
        self.totals[1] += line.jkm
        self.totals[2] += line.jumlah

    def close(self) -> None:
        """The total row, and the file."""
        self.sheet.append(
            [
                self._cell("Total", font=self.bold),
                *[self._cell(None)] * 3,
                self._cell(f"{number(self.count)} peserta", font=self.bold),
            ]
            + [self._cell(None)] * 2
            + [self._cell(v, RUPIAH_FORMAT, self.bold) for v in self.totals]
        )
        self.book.save(self.path)


def write_xlsx(lines: Iterable[ChargeLine], path: Path) -> None:
    """The per-participant lines as the clerk's workbook (see ChargeWorkbook)."""
    book = ChargeWorkbook(path)
    for line in lines:
        book.append(line)
    book.close()
