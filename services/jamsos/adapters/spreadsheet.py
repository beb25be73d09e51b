"""A clerk's CSV/XLSX of workers → one `RegistrationSubmittedV1` or `RowError`s per row.

Messages are for the clerk, in Indonesian. Submission ids are derived from the agency and the
row's normalised content (see `content_submission_id`), so the same row read again, from any
copy of the file at any time, has the same id, and a corrected row has a new one.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from jamsos.domain.wilayah import resolve_village
from jamsos.usecases.rows import RowError, SheetResult, SheetRow
from jamsos_schemas.registration import RegistrationSubmittedV1, Worker

_REQUIRED = ("nik", "full_name", "birth_date", "sex", "village", "occupation")
_SEX = {
    **dict.fromkeys(("f", "p", "perempuan", "pr", "wanita", "female", "w"), "F"),
    **dict.fromkeys(("m", "l", "lakilaki", "laki", "lk", "pria", "male"), "M"),
}
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("januari", "jan", "january"),
            ("februari", "feb", "pebruari", "peb", "february"),
            ("maret", "mar", "march"),
            ("april", "apr"),
            ("mei", "may"),
            ("juni", "jun", "june"),
            ("juli", "jul", "july"),
            ("agustus", "agu", "agt", "ags", "aug", "august"),
            ("september", "sep", "sept"),
            ("oktober", "okt", "oct", "october"),
            ("november", "nov", "nop", "nopember"),
            ("desember", "des", "dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EXACT_FLOAT = 2**53  # every integer below it survives a double exactly
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE][+]?\d+")
_GROUPED = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_VILLAGE_CODE = re.compile(r"\d{2}\.?\d{2}\.?\d{2}\.?\d{4}")
_NIK_LOST = (
    "NIK tersimpan sebagai angka dan digitnya hilang; format kolom sebagai Teks lalu ketik ulang"
)
_DATE_HINT = "tulis seperti 05-06-1990, 5/6/1990 atau 5 Juni 1990"

# The template's example row (adapters.workbooks); a row equal to it is not a worker.
EXAMPLE_NIK = "3319014506900001"
EXAMPLE_NAME = "CONTOH Siti Aminah (hapus baris ini)"


class Unreadable(ValueError):
    """A cell or file that cannot be read; the message is for the clerk."""


def _text(value: object) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None else str(value).strip()
    return text or None


def _nik(value: object) -> str | None:
    if isinstance(value, float) and not value.is_integer():
        raise Unreadable(_NIK_LOST)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Spreadsheet numbers are doubles: past 2**53 neighbouring integers share one value.
        digits = str(int(value))
        if int(value) >= _EXACT_FLOAT:
            raise Unreadable(f"{_NIK_LOST} ({digits} mungkin salah)")
        # Excel keeps 15 significant digits of a typed number: the 16th comes back as 0.
        if len(digits) == 16 and digits.endswith("0"):
            raise Unreadable(
                f"{_NIK_LOST} (Excel hanya menyimpan 15 digit, {digits} mungkin salah)"
            )
        return digits
    text = _text(value)
    if text is not None and _SCIENTIFIC.fullmatch(text):
        raise Unreadable(f"{_NIK_LOST} ({text})")
    return None if text is None else re.sub(r"[\s'’]+", "", text)  # '3319… typed as text


def _year(text: str, today: dt.date) -> int:
    year = int(text)
    if len(text) == 2:  # 90 → 1990, 05 → 2005: the most recent year with those digits
        year += 2000 if 2000 + year <= today.year else 1900
    return year


def parse_date(value: object) -> dt.date:
    """A date as clerks type it (day first), an Excel date or serial day number."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 80_000:
        return _EXCEL_EPOCH + dt.timedelta(days=int(value))  # an Excel serial day number
    text = _text(value) or ""
    folded = re.sub(r"\s+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?$", "", text.lower())  # a time part
    tokens = [t for t in re.split(r"[\s/.,\-]+", folded) if t]
    if len(tokens) == 1 and re.fullmatch(r"\d{8}", tokens[0]):  # 05061990 or 19900605
        t = tokens[0]
        tokens = [t[:4], t[4:6], t[6:]] if t[:2] in ("19", "20") else [t[:2], t[2:4], t[4:]]
    try:
        if len(tokens) != 3:
            raise ValueError
        if len(tokens[0]) == 4:  # ISO order: year first
            tokens = tokens[::-1]
        day, month, year = tokens
        number = int(month) if month.isdigit() else _MONTHS[month]
        if not (day.isdigit() and year.isdigit() and len(year) in (2, 4)):
            raise ValueError
        result = dt.date(_year(year, dt.date.today()), number, int(day))
    except (ValueError, KeyError):
        raise Unreadable(f"tanggal {text!r} tidak terbaca atau tidak ada: {_DATE_HINT}") from None
    return result


def _sex(value: object) -> str:
    text = re.sub(r"[\s.\-]", "", (_text(value) or "").lower())
    if text not in _SEX:
        raise Unreadable(f"jenis kelamin {_text(value)!r} tidak dikenal: tulis L atau P")
    return _SEX[text]


def _integer(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = re.sub(r"^rp\.?\s*", "", (_text(value) or "").lower())
    if _GROUPED.fullmatch(text):  # 1.500.000: Indonesian thousands separators
        text = re.sub(r"[.,]", "", text)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise Unreadable(f"bukan bilangan bulat: {_text(value)!r}")
    return int(text)


_FIELDS: dict[str, tuple[tuple[str, ...], Callable[[object], object]]] = {
    "nik": (("nik",), _nik),
    "full_name": (("nama_lengkap", "nama", "full_name"), _text),
    "birth_date": (("tanggal_lahir", "tgl_lahir", "birth_date"), parse_date),
    "sex": (("jenis_kelamin", "sex"), _sex),
    "phone": (("no_hp", "nomor_hp", "phone"), _text),
    "village": (
        ("desa_kelurahan", "desa", "kelurahan", "kode_desa", "village_code", "village"),
        _text,
    ),
    "kecamatan": (("kecamatan",), _text),
    "street": (("alamat", "street"), _text),
    "occupation": (("pekerjaan", "occupation"), _text),
    "dtsen_id": (("id_dtsen", "dtsen_id", "dtsen"), _text),
    "desil": (("desil",), _integer),
    "monthly_income": (("penghasilan", "monthly_income"), _integer),
    "submission_id": (("submission_id",), _text),
}
_COLUMN = {alias: name for name, (aliases, _) in _FIELDS.items() for alias in aliases}
_WORKER = (
    "nik",
    "full_name",
    "birth_date",
    "sex",
    "phone",
    "occupation",
    "dtsen_id",
    "desil",
    "monthly_income",
)
_PYDANTIC = {
    "string_too_long": "terlalu panjang",
    "string_too_short": "wajib diisi",
    "less_than_equal": "terlalu besar",
    "greater_than_equal": "terlalu kecil",
    "value_error": "tidak boleh kosong",
    "string_pattern_mismatch": "kode desa harus 10 digit",
}


def _rows(path: Path, data: bytes) -> list[Sequence[object]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:  # "CSV" saved by Excel on Windows
            text = data.decode("cp1252", errors="replace")
        header = text.partition("\n")[0]
        delimiter = max(",;\t", key=header.count)  # Indonesian Excel writes ';'
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if suffix not in {".xlsx", ".xlsm"}:
        raise Unreadable(f"jenis berkas {suffix!r} tidak didukung: simpan sebagai .xlsx atau .csv")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError) as exc:
        raise Unreadable(f"bukan berkas .xlsx yang bisa dibaca: {exc}") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers record wrong dimensions; read what is there
        return list(sheet.iter_rows(values_only=True))
    finally:
        book.close()


def _header(row: Sequence[object]) -> dict[str, tuple[int, str]]:
    columns: dict[str, tuple[int, str]] = {}
    for index, cell in enumerate(row):
        label = _text(cell)
        key = re.sub(r"[\s./\-]+", "_", label.lower()).strip("_") if label else ""
        name = _COLUMN.get(key)
        if name is None or label is None:
            continue  # columns the contract does not know are ignored
        if name in columns:
            raise Unreadable(f"kolom {columns[name][1]!r} dan {label!r} berarti hal yang sama")
        columns[name] = (index, label)
    missing = [_FIELDS[n][0][0] for n in _REQUIRED if n not in columns]
    if missing:
        raise Unreadable("kolom wajib tidak ada: " + ", ".join(missing))
    return columns


def content_submission_id(agency_code: str, worker: Worker) -> str:
    """The submission id of a row: the agency and a digest of the normalised worker.

    The same worker data gives the same id whenever and from whichever file it is read (a
    re-upload submits nothing new); any correction gives a new id (a new submission).
    """
    canonical = json.dumps(
        [agency_code, worker.model_dump(mode="json")], sort_keys=True, separators=(",", ":")
    )
    return f"{agency_code}-{hashlib.sha256(canonical.encode('utf-8')).hexdigest()[:20]}"


def _village(values: dict[str, object], columns: dict[str, tuple[int, str]]) -> str | RowError:
    text = str(values["village"])
    if _VILLAGE_CODE.fullmatch(text) or text.replace(".", "").isdigit():
        return text.replace(".", "")  # a code: its region is checked by verification
    kecamatan = values.get("kecamatan")
    found = resolve_village(text, None if kecamatan is None else str(kecamatan))
    if isinstance(found, str):
        return RowError(0, columns["village"][1], found)
    return found.code


def _submission(
    line: SheetRow,
    row: Sequence[object],
    columns: dict[str, tuple[int, str]],
    agency_code: str,
    submitted_at: dt.datetime,
) -> None:
    values: dict[str, object] = {}
    number = line.number
    for name, (index, label) in columns.items():
        raw = row[index] if index < len(row) else None
        try:
            value = _FIELDS[name][1](raw) if _text(raw) is not None else None
        except Unreadable as exc:
            line.errors.append(RowError(number, label, str(exc)))
            continue
        if value is None and name in _REQUIRED:
            line.errors.append(RowError(number, label, "wajib diisi"))
        values[name] = value
    village: str | None = None
    if values.get("village") is not None:
        found = _village(values, columns)
        if isinstance(found, RowError):
            line.errors.append(RowError(number, found.column, found.message))
        else:
            village = found
    worker: dict[str, object] = {name: values.get(name) for name in _WORKER}
    worker["address"] = {"village_code": village, "street": values.get("street")}
    if line.errors:
        return
    placeholder = values.get("submission_id") or "-"
    data = {"submission_id": placeholder, "agency_code": agency_code, "submitted_at": submitted_at}
    try:
        submission = RegistrationSubmittedV1.model_validate({**data, "worker": worker})
    except ValidationError as exc:
        for err in exc.errors():
            path = [str(p) for p in err["loc"]]
            field_name = (
                "village"
                if "village_code" in path
                else next((p for p in reversed(path) if p in _FIELDS), None)
            )
            column = columns[field_name][1] if field_name in columns else field_name
            text = _PYDANTIC.get(err["type"], err["msg"])
            line.errors.append(RowError(number, column, f"{text} ({err['input']!r})"))
        return
    if not values.get("submission_id"):
        sid = content_submission_id(agency_code, submission.worker)
        submission = submission.model_copy(update={"submission_id": sid})
    line.submission = submission


def _flag_repeated_niks(lines: list[SheetRow], column: str) -> None:
    """A NIK on several rows of one file is an error on each of them: which one is right is
    for the clerk to say."""
    by_nik: dict[str, list[SheetRow]] = {}
    for line in lines:
        if line.nik:
            by_nik.setdefault(line.nik, []).append(line)
    for same in by_nik.values():
        if len(same) < 2:
            continue
        numbers = ", ".join(str(line.number) for line in same)
        for line in same:
            message = f"NIK yang sama ada di baris {numbers}: satu NIK hanya boleh sekali"
            line.errors.append(RowError(line.number, column, message))


def read_workers(path: Path, agency_code: str, submitted_at: dt.datetime) -> SheetResult:
    """Read every non-blank row of `path` (the template's example row is not a worker)."""
    if submitted_at.tzinfo is None:
        raise ValueError("submitted_at must be timezone-aware")
    try:
        rows = _rows(path, path.read_bytes())
        columns = _header(rows[0] if rows else ())
    except Unreadable as exc:
        return SheetResult(lines=[], file_errors=[RowError(1, None, str(exc))])
    lines: list[SheetRow] = []
    skipped = False
    nik_at, name_at = columns["nik"][0], columns["full_name"][0]
    for number, row in enumerate(rows[1:], start=2):
        if all(_text(cell) is None for cell in row):
            continue
        raw_nik = row[nik_at] if nik_at < len(row) else None
        try:
            nik = _nik(raw_nik)
        except Unreadable:
            nik = _text(raw_nik)
        name = _text(row[name_at] if name_at < len(row) else None)
        if nik == EXAMPLE_NIK and name == EXAMPLE_NAME:
            skipped = True
            continue
        line = SheetRow(number, nik, name)
        _submission(line, row, columns, agency_code, submitted_at)
        lines.append(line)
    _flag_repeated_niks(lines, columns["nik"][1])
    return SheetResult(lines=lines, skipped_example=skipped)
