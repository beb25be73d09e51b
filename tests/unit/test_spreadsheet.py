"""Reading a clerk's CSV/XLSX of workers into submissions and per-row errors."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

import openpyxl
import pytest

from jamsos.adapters.spreadsheet import EXAMPLE_NAME, EXAMPLE_NIK, read_workers
from jamsos.usecases.rows import RowError

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
    assert "tersimpan sebagai angka dan digitnya hilang" in error.message


def test_numeric_nik_ending_in_zero_is_row_error_as_excel_keeps_15_digits(tmp_path: Path) -> None:
    header = ["nik", "nama", "tanggal_lahir", "jenis_kelamin", "kode_desa", "pekerjaan"]
    path = _xlsx(
        tmp_path,
        [header, [3319014506900000, "Siti", dt.date(1990, 6, 5), "P", "3319012001", "pedagang"]],
    )

    [error] = read_workers(path, "DISDAG", SUBMITTED_AT).errors

    assert (error.row, error.column) == (2, "nik")
    assert "Excel hanya menyimpan 15 digit" in error.message


def test_csv_nik_in_scientific_notation_is_row_error(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        "3.31901E+15,Siti,1990-06-05,F,3319012001,pedagang",
    )

    [error] = read_workers(path, "DISDAG", SUBMITTED_AT).errors

    assert (error.row, error.column) == (2, "nik")
    assert "tersimpan sebagai angka dan digitnya hilang" in error.message


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
    assert "wajib diisi" in messages[(3, "nama")]
    assert "tidak terbaca atau tidak ada" in messages[(3, "tanggal_lahir")]
    assert "bukan bilangan bulat" in messages[(3, "desil")]


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
    assert [line.number for line in result.lines] == [3]


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
    assert all(re.fullmatch(r"DISDAG-[0-9a-f]{20}", i) for i in ids)
    assert len(set(ids)) == 2


def test_submission_id_follows_row_content_not_file_or_position(tmp_path: Path) -> None:
    header = "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan"
    siti = "3319014506900001,Siti,1990-06-05,F,3319012001,pedagang"
    budi = "3319010101800002,Budi,1980-01-01,M,3319012001,buruh"
    first = read_workers(_csv(tmp_path, header, siti, budi), "DISDAG", SUBMITTED_AT)
    moved = _csv(tmp_path, header, budi, siti.replace("Siti", "Siti "), name="lain.csv")
    edited = _csv(tmp_path, header, siti, budi.replace("buruh", "buruh tani"), name="edit.csv")

    ids = {s.worker.nik: s.submission_id for s in first.submissions}
    again = {
        s.worker.nik: s.submission_id
        for s in read_workers(moved, "DISDAG", SUBMITTED_AT).submissions
    }
    fixed = {
        s.worker.nik: s.submission_id
        for s in read_workers(edited, "DISDAG", SUBMITTED_AT).submissions
    }

    assert again == ids  # other file name, other order, extra spaces: the same rows
    assert fixed["3319014506900001"] == ids["3319014506900001"]
    assert fixed["3319010101800002"] != ids["3319010101800002"]  # corrected: a new submission


def test_submission_id_column_sets_submission_ids(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "submission_id,nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,pekerjaan",
        "DISDAG-2025-000123,3319014506900001,Siti,1990-06-05,F,3319012001,pedagang",
        ",3319010101800002,Budi,1980-01-01,M,3319012001,buruh",
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    first, second = (s.submission_id for s in result.submissions)
    assert first == "DISDAG-2025-000123"
    assert re.fullmatch(r"DISDAG-[0-9a-f]{20}", second)


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
    assert "kolom wajib tidak ada: pekerjaan" in error.message


def test_unsupported_file_type_is_one_file_level_error(tmp_path: Path) -> None:
    path = tmp_path / "pekerja.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.errors == [
        RowError(1, None, "jenis berkas '.xls' tidak didukung: simpan sebagai .xlsx atau .csv")
    ]


TEMPLATE_HEADER = [
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


def _template_row(**cells: object) -> list[object]:
    base: dict[str, object] = {
        "NIK": "3319014506900001",
        "Nama Lengkap": "Siti Aminah",
        "Tanggal Lahir": "05-06-1990",
        "Jenis Kelamin": "P",
        "Desa/Kelurahan": "Loram Kulon",
        "Pekerjaan": "pedagang",
    }
    base.update(cells)
    return [base.get(h) for h in TEMPLATE_HEADER]


@pytest.mark.parametrize(
    ("village", "kecamatan", "code"),
    [
        ("Loram Kulon", None, "3319032009"),
        ("LoramKulon", None, "3319032009"),
        ("  desa   loram kulon ", None, "3319032009"),
        ("Ds. Loram Kulon", "Jati", "3319032009"),
        ("Kel. Purwosari", "Kota Kudus", "3319021001"),
        ("PURWOSARI", "kec. kota kudus", "3319021001"),
        ("33.19.03.2009", None, "3319032009"),
    ],
)
def test_village_name_is_read_as_its_code(
    tmp_path: Path, village: str, kecamatan: str | None, code: str
) -> None:
    path = _xlsx(
        tmp_path,
        [TEMPLATE_HEADER, _template_row(**{"Desa/Kelurahan": village, "Kecamatan": kecamatan})],
    )

    [submission] = read_workers(path, "DISDAG", SUBMITTED_AT).submissions

    assert submission.worker.address.village_code == code


@pytest.mark.parametrize(
    ("village", "kecamatan", "expected"),
    [
        ("Loram", None, "kurang lengkap: maksudnya Loram Kulon (Kec. Jati), Loram Wetan"),
        ("Loram Kulom", None, "mungkin maksudnya Loram Kulon?"),
        ("Loram Kulon", "Bae", "tidak ada di Kecamatan Bae, tetapi di Kec. Jati"),
        ("Loram Kulon", "Semarang", "Kecamatan 'Semarang' tidak ada di Kabupaten Kudus"),
    ],
)
def test_unknown_or_unclear_village_name_is_row_error_naming_the_candidates(
    tmp_path: Path, village: str, kecamatan: str | None, expected: str
) -> None:
    path = _xlsx(
        tmp_path,
        [TEMPLATE_HEADER, _template_row(**{"Desa/Kelurahan": village, "Kecamatan": kecamatan})],
    )

    [error] = read_workers(path, "DISDAG", SUBMITTED_AT).errors

    assert (error.row, error.column) == (2, "Desa/Kelurahan")
    assert expected in error.message


@pytest.mark.parametrize(
    ("written", "sex"),
    [
        ("L", "M"),
        ("P", "F"),
        ("Laki-laki", "M"),
        ("laki laki", "M"),
        ("PEREMPUAN", "F"),
        ("Pr", "F"),
        ("M", "M"),
        ("F", "F"),
    ],
)
def test_sex_as_clerks_write_it_is_read(tmp_path: Path, written: str, sex: str) -> None:
    nik = "3319014506900001" if sex == "F" else "3319010506900001"
    path = _xlsx(
        tmp_path, [TEMPLATE_HEADER, _template_row(**{"Jenis Kelamin": written, "NIK": nik})]
    )

    [submission] = read_workers(path, "DISDAG", SUBMITTED_AT).submissions

    assert submission.worker.sex == sex


def test_unknown_sex_is_row_error_in_indonesian(tmp_path: Path) -> None:
    path = _xlsx(tmp_path, [TEMPLATE_HEADER, _template_row(**{"Jenis Kelamin": "X"})])

    [error] = read_workers(path, "DISDAG", SUBMITTED_AT).errors

    assert (error.column, error.message) == (
        "Jenis Kelamin",
        "jenis kelamin 'X' tidak dikenal: tulis L atau P",
    )


@pytest.mark.parametrize(
    "written",
    [
        "05-06-1990",
        "5/6/1990",
        "05.06.1990",
        "1990-06-05",
        "5 Juni 1990",
        "05 Jun 1990",
        "5-jun-90",
        "05061990",
        "1990-06-05 00:00:00",
        dt.datetime(1990, 6, 5),
        33029,  # the Excel serial number of 1990-06-05
    ],
)
def test_birth_date_as_clerks_type_it_is_read(tmp_path: Path, written: object) -> None:
    path = _xlsx(tmp_path, [TEMPLATE_HEADER, _template_row(**{"Tanggal Lahir": written})])

    [submission] = read_workers(path, "DISDAG", SUBMITTED_AT).submissions

    assert submission.worker.birth_date == dt.date(1990, 6, 5)


@pytest.mark.parametrize("written", ["31/02/1985", "5 Juno 1990", "1990", "32-01-1990"])
def test_impossible_or_unreadable_date_is_row_error(tmp_path: Path, written: str) -> None:
    path = _xlsx(tmp_path, [TEMPLATE_HEADER, _template_row(**{"Tanggal Lahir": written})])

    [error] = read_workers(path, "DISDAG", SUBMITTED_AT).errors

    assert error.column == "Tanggal Lahir" and "tidak terbaca atau tidak ada" in error.message


def test_nik_twice_in_one_file_is_an_error_on_both_rows(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path,
        [
            TEMPLATE_HEADER,
            _template_row(),
            _template_row(
                NIK="3319010101800002",
                **{"Nama Lengkap": "Budi", "Jenis Kelamin": "L", "Tanggal Lahir": "01-01-1980"},
            ),
            _template_row(**{"Nama Lengkap": "Siti A."}),
        ],
    )

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert [s.worker.nik for s in result.submissions] == ["3319010101800002"]
    assert {(e.row, e.column) for e in result.errors} == {(2, "NIK"), (4, "NIK")}
    assert "NIK yang sama ada di baris 2, 4" in result.errors[0].message


def test_template_example_row_is_not_a_worker(tmp_path: Path) -> None:
    example = _template_row(**{"Nama Lengkap": EXAMPLE_NAME, "NIK": EXAMPLE_NIK})
    path = _xlsx(tmp_path, [TEMPLATE_HEADER, example, _template_row(NIK="3319014506900002")])

    result = read_workers(path, "DISDAG", SUBMITTED_AT)

    assert result.skipped_example
    assert [line.number for line in result.lines] == [3]
