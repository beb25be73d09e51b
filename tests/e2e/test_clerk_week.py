"""A clerk's week through the CLI on a real broker and database: template → 200 filled rows
with 15 kinds of mistake → `submit --wait` → result file → corrected file → the same file again.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from jamsos.domain.wilayah import villages
from tests.e2e.conftest import Cli
from tests.factory import aged

pytestmark = pytest.mark.e2e

HEADERS = [
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
]
FIRST_ROW = 3  # row 2 keeps the template's example
# `submit` judges ages on today (the rule is 18-65): the 200 workers are 60 down to 40 years
# old, the under-age mistake 15, whatever the year the test runs in.
ELDEST = aged(60, 1, 1)


def _worker(index: int) -> dict[str, Any]:
    """A valid worker, written the many ways clerks write (dates, sex, village names)."""
    village = sorted(villages().values(), key=lambda v: v.code)[index % 132]
    birth = ELDEST + dt.timedelta(days=37 * index)
    female = index % 2 == 0
    day = birth.day + (40 if female else 0)
    nik = f"331903{day:02d}{birth:%m%y}{index + 1:04d}"
    dates = (
        f"{birth:%d-%m-%Y}",
        f"{birth.day}/{birth.month}/{birth.year}",
        birth,
        f"{birth:%Y-%m-%d}",
    )
    names = (village.name, f"Desa {village.name}", village.name.upper().replace(" ", ""))
    return {
        "NIK": nik,
        "Nama Lengkap": f"Pekerja Nomor {index}",
        "Tanggal Lahir": dates[index % 4],
        "Jenis Kelamin": ("P", "Perempuan")[index % 4 // 2]
        if female
        else ("L", "Laki-laki")[index % 3 // 2],
        "No. HP": f"0812{index:08d}",
        "Desa/Kelurahan": names[index % 3],
        "Kecamatan": village.kecamatan_name if index % 5 else None,
        "Alamat": f"RT {index % 9 + 1:02d} RW 01",
        "Pekerjaan": "pedagang pasar",
        "Desil": index % 4 + 1,
        "Penghasilan": "1.250.000",
    }


# Each mistake: (what the clerk got wrong, how it shows in the sheet, the correction).
Change = Callable[[dict[str, Any]], None]


def _set(**cells: Any) -> Change:
    def change(row: dict[str, Any]) -> None:
        row.update({k.replace("_", " "): v for k, v in cells.items()})

    return change


def _nik_serial(serial: str) -> Change:
    def change(row: dict[str, Any]) -> None:
        row["NIK"] = row["NIK"][:12] + serial

    return change


def _nik_as_number(row: dict[str, Any]) -> None:
    row["NIK"] = int(row["NIK"][:15] + "0")  # Excel kept 15 digits


def _restore(original: dict[str, Any]) -> Change:
    def change(row: dict[str, Any]) -> None:
        row.clear()
        row.update(original)

    return change


MISTAKES: list[tuple[str, Change, str]] = [
    ("NIK typed as a number", _nik_as_number, "ROW_ERROR"),
    ("NIK in scientific notation", _set(NIK="3.31903E+15"), "ROW_ERROR"),
    ("name missing", _set(**{"Nama_Lengkap": None}), "ROW_ERROR"),
    ("impossible date", _set(**{"Tanggal_Lahir": "31/02/1985"}), "ROW_ERROR"),
    ("unknown sex", _set(**{"Jenis_Kelamin": "X"}), "ROW_ERROR"),
    ("misspelt village", _set(**{"Desa/Kelurahan": "Loram Kulom", "Kecamatan": None}), "ROW_ERROR"),
    ("partial village", _set(**{"Desa/Kelurahan": "Loram", "Kecamatan": None}), "ROW_ERROR"),
    (
        "village in another kecamatan",
        _set(**{"Desa/Kelurahan": "Loram Kulon", "Kecamatan": "Bae"}),
        "ROW_ERROR",
    ),
    ("desil out of range", _set(Desil=11), "ROW_ERROR"),
    ("occupation missing", _set(Pekerjaan=None), "ROW_ERROR"),
    ("income not a number", _set(Penghasilan="satu juta"), "ROW_ERROR"),
    ("NIK serial 0000", _nik_serial("0000"), "REJECTED"),
    ("NIK date disagrees", _set(**{"Tanggal_Lahir": f"{aged(55, 1, 1):%d-%m-%Y}"}), "REJECTED"),
    ("under age", _set(**{"Tanggal_Lahir": f"{aged(15, 1, 1):%d-%m-%Y}"}), "REJECTED"),
    (
        "village outside Kudus",
        _set(**{"Desa/Kelurahan": "3374011001", "Kecamatan": None}),
        "REJECTED",
    ),
]
DUPLICATE_ROWS = (190, 191)  # the 16th mistake kind: one NIK on two rows


def _sheet(template: Path, path: Path, rows: list[dict[str, Any]]) -> None:
    book = openpyxl.load_workbook(template)
    sheet = book["Data"]
    for offset, row in enumerate(rows):
        for column, header in enumerate(HEADERS, start=1):
            sheet.cell(FIRST_ROW + offset, column, row.get(header))
    book.save(path)


def _results(path: Path) -> list[dict[str, str]]:
    with path.with_name(f"{path.stem}.hasil.csv").open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def _report(cli: Cli) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli("report", "--json").stdout)
    return data


@pytest.mark.timeout(480)  # a whole week: three uploads waited on, terminations, on 2 busy cores
async def test_clerk_week_template_mistakes_corrections_and_reupload_end_all_enrolled(
    cli: Cli, tmp_path: Path
) -> None:
    cli("topics", "create")
    cli("db", "migrate")
    cli.start("run", "all")
    template = tmp_path / "templat.xlsx"
    cli("submit", "--template", str(template))

    good = [_worker(i) for i in range(200)]
    rows = [dict(r) for r in good]
    for index, (_, mistake, _) in enumerate(MISTAKES):
        mistake(rows[index * 12])
    rows[DUPLICATE_ROWS[1]]["NIK"] = rows[DUPLICATE_ROWS[0]]["NIK"]
    sheet = tmp_path / "pedagang.xlsx"
    _sheet(template, sheet, rows)

    unknown = cli("submit", str(sheet), "--agency", "DISPAR", check=False)
    assert unknown.returncode == 2 and "unknown agency 'DISPAR'" in unknown.stderr

    first = cli("submit", str(sheet), "--agency", "disdag", "--wait", check=False)
    assert first.returncode == 1, first.stdout  # rows with errors
    assert "200 baris: 187 baru" in first.stdout, first.stdout
    lines = _results(sheet)
    assert [int(line["Baris"]) for line in lines] == list(range(FIRST_ROW, FIRST_ROW + 200))
    expected = {FIRST_ROW + i * 12: code for i, (_, _, code) in enumerate(MISTAKES)}
    expected |= {FIRST_ROW + r: "ROW_ERROR" for r in DUPLICATE_ROWS}
    codes = {int(line["Baris"]): line["Kode"] for line in lines}
    assert codes == {row: expected.get(row, "ENROLLED") for row in codes}
    by_row = {int(line["Baris"]): line for line in lines}
    assert "NIK tidak sah" in by_row[FIRST_ROW + 11 * 12]["Keterangan"]
    assert "di luar Kabupaten Kudus" in by_row[FIRST_ROW + 14 * 12]["Keterangan"]
    assert "mungkin maksudnya Loram Kulon" in by_row[FIRST_ROW + 5 * 12]["Keterangan"]
    assert by_row[FIRST_ROW + 1]["Keterangan"].startswith("No. peserta KDS-")
    assert by_row[FIRST_ROW + 1]["NIK"] == good[1]["NIK"]
    assert "pedagang.hasil.xlsx" in first.stdout
    assert (tmp_path / "pedagang.hasil.xlsx").exists()

    fixed = [dict(r) for r in good]
    fixed[1]["No. HP"] = "081299999999"  # an enrolled worker's data edited: not re-sent
    _sheet(template, sheet, fixed)
    second = cli("submit", str(sheet), "--agency", "DISDAG", "--wait", check=False)
    assert second.returncode == 0, second.stdout
    assert "1 di antaranya tidak dikirim" in second.stdout, second.stdout
    lines = _results(sheet)
    assert len(lines) == 200
    assert {line["Kode"] for line in lines} == {"ENROLLED"}
    data = _report(cli)
    assert data["outcomes"].get("DUPLICATE", 0) == 0  # no false duplicates
    assert data["dead_letters"] == 0  # no SUBMISSION_ID_REUSED
    assert data["outcomes"]["ENROLLED"] == 200
    submitted = data["submissions"]

    third = cli("submit", str(sheet), "--agency", "DISDAG", "--wait")
    assert "0 baru (new), 199 tidak berubah" in third.stdout, third.stdout
    assert "; 0 dikirim" in third.stdout
    assert _report(cli)["submissions"] == submitted
    assert _report(cli)["dead_letters"] == 0

    status = cli("submission", "status", "--agency", "disdag", "--nik", good[1]["NIK"])
    assert "ENROLLED" in status.stdout
    (tmp_path / "pedagang.hasil.csv").unlink()
    cli("submission", "status", "--agency", "DISDAG", "--file", str(sheet))
    assert [line["Kode"] for line in _results(sheet)] == ["ENROLLED"] * 200

    ended = cli(
        "terminate",
        good[1]["NIK"],
        "--agency",
        "dishub",
        "--reason",
        "moved_out",
        "--effective",
        "15-01-2027",
    )
    assert "coverage ends 2027-01-31 (MOVED_OUT)" in ended.stdout, ended.stdout
    unknown_nik = cli(
        "terminate",
        "3319010101990009",
        "--agency",
        "DISHUB",
        "--reason",
        "WITHDRAWN",
        "--effective",
        "2027-01-15",
        check=False,
    )
    assert unknown_nik.returncode == 1 and "NOT_FOUND" in unknown_nik.stdout
    assert _report(cli)["per_agency"][0]["active"] == 199
