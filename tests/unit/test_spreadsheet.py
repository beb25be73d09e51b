"""Reading a clerk's CSV/XLSX of workers into submissions and per-row errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import openpyxl

from jamsos.adapters.spreadsheet import RowError, read_workers

WIB = dt.timezone(dt.timedelta(hours=7))
SUBMITTED_AT = dt.datetime(2025, 1, 15, 9, 30, tzinfo=WIB)
ID_HEADER = (
    "nik,nama,tanggal_lahir,jenis_kelamin,no_hp,kode_desa,alamat,pekerjaan,desil,penghasilan"
)


def _csv(tmp_path: Path, *lines: str, name: str = "pekerja.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _xlsx(tmp_path: Path, rows: Sequence[Sequence[object]], name: str = "pekerja.xlsx") -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    path = tmp_path / name
    book.save(path)
    return path


def test_csv_with_indonesian_headers_reads_each_row_as_submission(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        ID_HEADER,
        "3319014506900001,Siti  Aminah,05-06-1990,P,+6281234567890,3319012001,Jl. Sunan Muria 4,"
        "pedagang pasar,1,1500000",
        "3319010101800002,Budi Santoso,01/01/1980,laki-laki,,3319012001,,buruh tani,,",
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.errors == []
    assert result.rows == 2
    siti, budi = (s.worker for s in result.submissions)
    assert (siti.nik, siti.full_name, siti.birth_date, siti.sex) == (
        "3319014506900001",
        "Siti Aminah",
        dt.date(1990, 6, 5),
        "F",
    )
    assert (siti.phone, siti.address.street, siti.desil, siti.monthly_income) == (
        "+6281234567890",
        "Jl. Sunan Muria 4",
        1,
        1_500_000,
    )
    assert (budi.birth_date, budi.sex, budi.phone, budi.desil) == (
        dt.date(1980, 1, 1),
        "M",
        None,
        None,
    )
    assert {s.agency_code for s in result.submissions} == {"DISDAG"}
    assert {s.submitted_at for s in result.submissions} == {SUBMITTED_AT}


def test_csv_with_spaced_mixed_case_headers_and_semicolons_is_read(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        " NIK ; Nama Lengkap ;Tanggal Lahir;Jenis Kelamin;Kode Desa;Pekerjaan;Penghasilan",
        "3319014506900001;Siti Aminah;1990-06-05;Perempuan;3319012001;pedagang;1.500.000",
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.errors == []
    assert result.submissions[0].worker.monthly_income == 1_500_000


def test_xlsx_excel_date_and_numeric_nik_are_recovered(tmp_path: Path) -> None:
    header = ["NIK", "Nama", "Tanggal_Lahir", "Jenis_Kelamin", "Kode_Desa", "Pekerjaan"]
    path = _xlsx(
        tmp_path,
        [
            header,
            [3319014506900001, "Siti Aminah", dt.date(1990, 6, 5), "P", "3319012001", "pedagang"],
            [3.319010101800002e15, "Budi", dt.datetime(1980, 1, 1), "L", 3319012001, "buruh"],
        ],
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.errors == []
    workers = [s.worker for s in result.submissions]
    assert [w.nik for w in workers] == ["3319014506900001", "3319010101800002"]
    assert [w.birth_date for w in workers] == [dt.date(1990, 6, 5), dt.date(1980, 1, 1)]
    assert workers[1].address.village_code == "3319012001"


def test_xlsx_numeric_nik_beyond_float_precision_is_row_error(tmp_path: Path) -> None:
    header = ["nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "pekerjaan"]
    path = _xlsx(
        tmp_path,
        [header, [9.171014506900003e15, "Yohana", dt.date(1990, 6, 5), "P", "3319012001", "tani"]],
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.submissions == []
    [error] = result.errors
    assert (error.row, error.column) == (2, "nik")
    assert "stored as a number and lost digits" in error.message


def test_numeric_nik_ending_in_zero_is_row_error_as_excel_keeps_15_digits(tmp_path: Path) -> None:
    header = ["nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "pekerjaan"]
    path = _xlsx(
        tmp_path,
        [header, [3319014506900000, "Siti", dt.date(1990, 6, 5), "P", "3319012001", "pedagang"]],
    )

    [error] = read_workers(path, "DISDAG", SUBMITTED_AT).errors

    assert (error.row, error.column) == (2, "nik")
    assert "lost digits" in error.message


def test_csv_nik_in_scientific_notation_is_row_error(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        "3.31901E+15,Siti,1990-06-05,F,3319012001,pedagang",
    )

    [error] = read_workers(path, "DISDAG", SUBMITTED_AT).errors

    assert (error.row, error.column) == (2, "nik")
    assert "stored as a number and lost digits" in error.message


def test_dotted_village_code_is_read_without_dots(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        "3319014506900001,Siti,1990-06-05,F,33.19.01.2001,pedagang",
    )

    [submission] = read_workers(path, "DISDAG", SUBMITTED_AT).submissions

    assert submission.worker.address.village_code == "3319012001"


def test_row_with_several_problems_reports_each_with_row_and_column(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        ID_HEADER,
        "3319014506900001,Siti,1990-06-05,F,,3319012001,,pedagang,1,1500000",
        "3319010101800002,,31-02-1980,X,,3319012001,,buruh,satu,1.5",
        "3319010101800003,Budi,1980-01-01,M,,33.19.01,,buruh,11,",
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.rows == 3
    assert len(result.submissions) == 1
    assert {(e.row, e.column) for e in result.errors} == {
        (3, "nama"),
        (3, "tanggal_lahir"),
        (3, "jenis_kelamin"),
        (3, "desil"),
        (3, "penghasilan"),
        (4, "kode_desa"),
        (4, "desil"),
    }
    messages = {(e.row, e.column): e.message for e in result.errors}
    assert "empty" in messages[(3, "nama")]
    assert "unreadable date" in messages[(3, "tanggal_lahir")]
    assert "not a whole number" in messages[(3, "desil")]


def test_blank_rows_are_skipped_and_not_counted(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        ",,,,,",
        "3319014506900001,Siti,1990-06-05,F,3319012001,pedagang",
        "",
        "  ,  ,,,,",
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert (result.rows, len(result.submissions), result.errors) == (1, 1, [])
    assert result.submissions[0].submission_id.endswith("-000003")


def test_same_file_read_twice_gives_same_submission_ids(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        "3319014506900001,Siti,1990-06-05,F,3319012001,pedagang",
        "3319010101800002,Budi,1980-01-01,M,3319012001,buruh",
    )

    first = read_workers(path, "DISDAG", SUBMITTED_AT)
    second = read_workers(path, "DISDAG", SUBMITTED_AT + dt.timedelta(days=1))

    ids = [s.submission_id for s in first.submissions]
    assert ids == [s.submission_id for s in second.submissions]
    assert all(re.fullmatch(r"DISDAG-pekerja-[0-9a-f]{8}-00000[23]", i) for i in ids)


def test_changed_file_gets_new_default_submission_ids(tmp_path: Path) -> None:
    header = "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan"
    row = "3319014506900001,Siti,1990-06-05,F,3319012001,pedagang"
    before = read_workers(_csv(tmp_path, header, row), "DISDAG", SUBMITTED_AT)
    after = read_workers(_csv(tmp_path, header, row + " "), "DISDAG", SUBMITTED_AT)

    assert before.submissions[0].submission_id != after.submissions[0].submission_id


def test_batch_tag_and_submission_id_column_set_submission_ids(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "submission_id,nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        "DISDAG-2025-000123,3319014506900001,Siti,1990-06-05,F,3319012001,pedagang",
        ",3319010101800002,Budi,1980-01-01,M,3319012001,buruh",
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT, batch_tag="jan25")

    assert [s.submission_id for s in result.submissions] == [
        "DISDAG-2025-000123",
        "DISDAG-jan25-000003",
    ]


def test_long_file_name_still_yields_valid_submission_ids(tmp_path: Path) -> None:
    name = "Data Pekerja Rentan Pasar Kliwon Kabupaten Kudus Januari 2025 (revisi final).csv"
    path = _csv(
        tmp_path,
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        "3319014506900001,Siti,1990-06-05,F,3319012001,pedagang",
        name=name,
    )

    result = read_workers(path, "DINAS-TENAGA-KERJA-PERINDUSTRIAN", SUBMITTED_AT)

    assert result.errors == []
    assert len(result.submissions[0].submission_id) <= 64


def test_missing_required_column_is_one_file_level_error(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa",
        "3319014506900001,Siti,1990-06-05,F,3319012001",
        "3319010101800002,Budi,1980-01-01,M,3319012001",
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert (result.submissions, result.rows) == ([], 0)
    [error] = result.errors
    assert (error.row, error.column) == (1, None)
    assert "occupation" in error.message and "pekerjaan" in error.message


def test_unsupported_file_type_is_one_file_level_error(tmp_path: Path) -> None:
    path = tmp_path / "pekerja.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.errors == [
        RowError(1, None, "unsupported file type '.xls': save it as .xlsx or .csv")
    ]
