"""Sorting a re-uploaded file against the agency's earlier submissions, the result lines, and
the template a clerk fills in (no I/O beyond tmp files)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest

from jamsos.adapters.spreadsheet import read_workers
from jamsos.adapters.workbooks import TEMPLATE_HEADERS, write_results, write_template
from jamsos.usecases.intake import Kind, digest, plan, results
from jamsos.usecases.rows import Known, SheetRow

WIB = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2025, 1, 15, 9, 30, tzinfo=WIB)
HEADER = "nik,nama,tanggal_lahir,jenis_kelamin,desa,pekerjaan"
ROWS = {
    "siti": "3319014506900001,Siti Aminah,05-06-1990,P,Loram Kulon,pedagang",
    "budi": "3319010101800002,Budi Santoso,01-01-1980,L,Purwosari,buruh",
    "ayu": "3319015506000003,Ayu Lestari,15-06-2000,P,Purwosari,pedagang",
}


def _read(tmp_path: Path, *rows: str, name: str = "pekerja.csv") -> list[SheetRow]:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return read_workers(path, "DISDAG", NOW).lines


def _known(line: SheetRow, status: str, holds: bool, **changes: object) -> Known:
    assert line.submission is not None
    fields: dict[str, object] = {
        "submission_id": line.submission.submission_id,
        "nik": line.submission.worker.nik,
        "status": status,
        "content_hash": digest(line.submission),
        "received_at": NOW,
        "reasons": [],
        "membership_no": None,
        "coverage_start": None,
        "existing_agency_code": None,
        "existing_membership_no": None,
        "holds_claim": holds,
    }
    fields.update(changes)
    return Known(**fields)  # type: ignore[arg-type]


def test_reupload_sorts_rows_into_new_unchanged_corrected_and_not_sent(tmp_path: Path) -> None:
    before = _read(tmp_path, ROWS["siti"], ROWS["budi"], ROWS["ayu"])
    known = [
        _known(before[0], "ENROLLED", holds=True, membership_no="KDS-000000001"),
        _known(before[1], "REJECTED", holds=False, reasons=[{"code": "NIK_MISMATCH"}]),
        _known(before[2], "ENROLLED", holds=True),
    ]
    after = _read(
        tmp_path,
        ROWS["siti"],  # unchanged
        ROWS["budi"].replace("buruh", "buruh tani"),
        ROWS["ayu"].replace("pedagang", "penjahit"),  # enrolled and still held: not re-sent
        "3319010101800004,Joko,01-01-1980,L,Purwosari,tukang",
        name="edit.csv",
    )

    planned = plan(after, known)

    assert [p.kind for p in planned] == [Kind.UNCHANGED, Kind.CORRECTED, Kind.NOT_SENT, Kind.NEW]
    assert [p.publish for p in planned] == [False, True, False, True]
    assert planned[2].shows == known[2].submission_id  # the row reports the enrolment


def test_enrolled_then_terminated_worker_corrected_is_sent_again(tmp_path: Path) -> None:
    before = _read(tmp_path, ROWS["siti"])
    after = _read(tmp_path, ROWS["siti"].replace("pedagang", "penjahit"), name="b.csv")

    [planned] = plan(after, [_known(before[0], "ENROLLED", holds=False)])

    assert planned.kind is Kind.CORRECTED


def test_submission_id_column_reused_for_other_content_is_row_error_not_sent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ids.csv"
    path.write_text(f"submission_id,{HEADER}\nX-1,{ROWS['siti']}\n", encoding="utf-8")
    [line] = read_workers(path, "DISDAG", NOW).lines
    earlier = _known(line, "ENROLLED", holds=True, content_hash="other")

    [planned] = plan([line], [earlier])

    assert planned.kind is Kind.ERROR and not planned.publish
    assert "SUBMISSION_ID_REUSED" in line.errors[0].message


def test_result_has_one_line_per_row_with_indonesian_outcomes(tmp_path: Path) -> None:
    lines = _read(tmp_path, ROWS["siti"], ROWS["budi"], "3319,,,X,Nowhere,")
    enrolled = _known(
        lines[0],
        "ENROLLED",
        True,
        membership_no="KDS-000000007",
        coverage_start=dt.date(2025, 2, 1),
    )
    rejected = _known(
        lines[1], "REJECTED", False, reasons=[{"code": "NIK_MISMATCH"}, {"code": "OUT_OF_REGION"}]
    )
    planned = plan(lines, [])

    out = results(planned, {enrolled.submission_id: enrolled, rejected.submission_id: rejected}, {})

    assert [(r.row, r.code) for r in out] == [(2, "ENROLLED"), (3, "REJECTED"), (4, "ROW_ERROR")]
    assert out[0].detail == "No. peserta KDS-000000007, berlaku mulai 01-02-2025"
    assert out[1].outcome == "Ditolak"
    assert "tidak cocok dengan tanggal lahir" in out[1].detail
    assert "di luar Kabupaten Kudus" in out[1].detail
    assert "wajib diisi" in out[2].detail and out[2].nik == "3319"

    xlsx, csv_path = write_results(tmp_path / "pekerja.csv", out)
    assert (xlsx.name, csv_path.name) == ("pekerja.hasil.xlsx", "pekerja.hasil.csv")
    assert len(csv_path.read_text("utf-8-sig").splitlines()) == 1 + 3
    sheet = openpyxl.load_workbook(xlsx).active
    assert sheet is not None
    assert sheet["B2"].value == "3319014506900001" and sheet["B2"].number_format == "@"


def test_template_has_indonesian_headers_text_columns_drop_downs_and_readable_example(
    tmp_path: Path,
) -> None:
    path = tmp_path / "templat.xlsx"
    write_template(path)

    book = openpyxl.load_workbook(path)
    sheet = book["Data"]
    assert tuple(c.value for c in sheet[1]) == TEMPLATE_HEADERS
    assert {sheet[f"{col}10"].number_format for col in "AEJ"} == {"@"}
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert set(lists) == {"D2:D2001", "F2:F2001", "G2:G2001"}
    assert book["Daftar"].sheet_state == "hidden"
    villages = [c.value for c in book["Daftar"]["C"][1:] if c.value]
    assert len(villages) == 132 and "Loram Kulon" in villages
    # the example row parses (it is the format clerks copy) but is not submitted
    sheet.cell(3, 1, "3319014506900002")
    for column, value in enumerate(
        ["Siti", "5 Juni 1990", "P", None, "Desa Loram Kulon", "Jati", None, "pedagang"], start=2
    ):
        sheet.cell(3, column, value)
    book.save(path)
    result = read_workers(path, "DISDAG", NOW)
    assert result.skipped_example and result.errors == []
    [submission] = result.submissions
    assert submission.worker.address.village_code == "3319032009"
    assert re.fullmatch(r"DISDAG-[0-9a-f]{20}", submission.submission_id)


def test_agency_code_is_checked_before_anything_is_published_and_lowercase_normalised(
    tmp_path: Path,
) -> None:
    from jamsos.cli.errors import Failure
    from jamsos.cli.submit import registered_agency
    from jamsos.settings import load_settings

    settings = load_settings(env={}, cwd=tmp_path)  # no broker: publishing is impossible
    assert registered_agency(settings, " dishub ") == "DISHUB"
    with pytest.raises(Failure) as caught:
        registered_agency(settings, "DISPAR")
    assert caught.value.code == 2
    assert caught.value.message.startswith("unknown agency 'DISPAR': the registered agencies")
