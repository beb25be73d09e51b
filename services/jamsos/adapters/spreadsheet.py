"""A clerk's CSV/XLSX of workers → one `RegistrationSubmittedV1` or `RowError`s per row."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from jamsos_schemas.registration import RegistrationSubmittedV1

_REQUIRED = ("nik", "full_name", "birth_date", "sex", "village_code", "occupation")
_SEX = {"f": "F", "p": "F", "perempuan": "F", "m": "M", "l": "M", "laki-laki": "M"}
_DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y")
_EXACT_FLOAT = 2**53  # every integer below it survives a double exactly
_SCIENTIFIC = re.compile(r"\d(?:[.,]\d+)?[eE][+]?\d+")
_GROUPED = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_NIK_LOST = "NIK was stored as a number and lost digits; format the column as Text and re-type it"
_ID_LENGTH = 64


@dataclass(frozen=True)
class RowError:
    """A problem in one row (row 1 is the header: a problem with the whole file)."""

    row: int
    column: str | None
    message: str


@dataclass(frozen=True)
class SheetResult:
    """The submissions read, the rows that failed, and how many non-blank data rows there were."""

    submissions: list[RegistrationSubmittedV1]
    errors: list[RowError]
    rows: int


class _Unreadable(ValueError):
    """A cell or file that cannot be read; the message is for the clerk."""


def _text(value: object) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None else str(value).strip()
    return text or None


def _nik(value: object) -> str | None:
    if isinstance(value, float) and not value.is_integer():
        raise _Unreadable(_NIK_LOST)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Spreadsheet numbers are doubles: past 2**53 neighbouring integers share one value.
        digits = str(int(value))
        if int(value) >= _EXACT_FLOAT:
            raise _Unreadable(f"{_NIK_LOST} ({digits} may be wrong)")
        # Excel keeps 15 significant digits of a typed number: the 16th comes back as 0.
        if len(digits) == 16 and digits.endswith("0"):
            raise _Unreadable(f"{_NIK_LOST} (Excel keeps only 15, {digits} may be wrong)")
        return digits
    text = _text(value)
    if text is not None and _SCIENTIFIC.fullmatch(text):
        raise _Unreadable(f"{_NIK_LOST} ({text})")
    return None if text is None else re.sub(r"\s+", "", text)


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value) or ""
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise _Unreadable(f"unreadable date {text!r}: use YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY")


def _sex(value: object) -> str:
    text = (_text(value) or "").lower()
    if text not in _SEX:
        raise _Unreadable(f"unknown sex {text!r}: use F/M, P/L or perempuan/laki-laki")
    return _SEX[text]


def _village(value: object) -> str | None:
    text = _text(value)
    return None if text is None else re.sub(r"[.\s]", "", text)


def _integer(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _text(value) or ""
    if _GROUPED.fullmatch(text):  # 1.500.000: Indonesian thousands separators
        text = re.sub(r"[.,]", "", text)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise _Unreadable(f"not a whole number: {text!r}")
    return int(text)


_FIELDS: dict[str, tuple[tuple[str, ...], Callable[[object], object]]] = {
    "nik": (("nik",), _nik),
    "full_name": (("full_name", "nama", "nama_lengkap"), _text),
    "birth_date": (("birth_date", "tanggal_lahir"), _date),
    "sex": (("sex", "jenis_kelamin"), _sex),
    "phone": (("phone", "no_hp"), _text),
    "village_code": (("village_code", "kode_desa"), _village),
    "street": (("street", "alamat"), _text),
    "occupation": (("occupation", "pekerjaan"), _text),
    "dtsen_id": (("dtsen_id",), _text),
    "desil": (("desil",), _integer),
    "monthly_income": (("monthly_income", "penghasilan"), _integer),
    "submission_id": (("submission_id",), _text),
}
_COLUMN = {alias: name for name, (aliases, _) in _FIELDS.items() for alias in aliases}
_WORKER = [name for name in _FIELDS if name not in {"village_code", "street", "submission_id"}]


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
        raise _Unreadable(f"unsupported file type {suffix!r}: save it as .xlsx or .csv")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError) as exc:
        raise _Unreadable(f"not a readable .xlsx file: {exc}") from None
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
        name = _COLUMN.get(re.sub(r"[\s.\-]+", "_", label.lower()).strip("_")) if label else None
        if name is None or label is None:
            continue  # columns the contract does not know are ignored
        if name in columns:
            raise _Unreadable(f"columns {columns[name][1]!r} and {label!r} both mean {name}")
        columns[name] = (index, label)
    missing = [f"{n} ({'/'.join(_FIELDS[n][0])})" for n in _REQUIRED if n not in columns]
    if missing:
        raise _Unreadable("missing required column(s): " + ", ".join(missing))
    return columns


def _default_tag(path: Path, data: bytes, agency_code: str) -> str:
    digest = hashlib.sha256(data).hexdigest()[:8]
    room = _ID_LENGTH - len(agency_code) - len(f"--{digest}-000000")
    stem = re.sub(r"[^A-Za-z0-9]+", "-", path.stem).strip("-")[: max(room, 0)].rstrip("-")
    return f"{stem}-{digest}" if stem else digest


def _submission(
    number: int,
    row: Sequence[object],
    columns: dict[str, tuple[int, str]],
    agency_code: str,
    submitted_at: dt.datetime,
    default_id: str,
) -> RegistrationSubmittedV1 | list[RowError]:
    values: dict[str, object] = {}
    errors: list[RowError] = []
    for name, (index, label) in columns.items():
        raw = row[index] if index < len(row) else None
        try:
            value = _FIELDS[name][1](raw) if _text(raw) is not None else None
        except _Unreadable as exc:
            errors.append(RowError(number, label, str(exc)))
            continue
        if value is None and name in _REQUIRED:
            errors.append(RowError(number, label, "required value is empty"))
        values[name] = value
    worker: dict[str, object] = {name: values.get(name) for name in _WORKER}
    worker["address"] = {"village_code": values.get("village_code"), "street": values.get("street")}
    sid = values.get("submission_id") or default_id
    data = {"submission_id": sid, "agency_code": agency_code, "submitted_at": submitted_at}
    try:
        submission = RegistrationSubmittedV1.model_validate({**data, "worker": worker})
    except ValidationError as exc:
        failed = {e.column for e in errors}
        for err in exc.errors():
            field = next((str(p) for p in reversed(err["loc"]) if str(p) in _FIELDS), None)
            column = columns[field][1] if field in columns else field
            if column is None or column not in failed:
                errors.append(RowError(number, column, f"{err['msg']} (got {err['input']!r})"))
        return errors
    return errors or submission


def read_workers(
    path: Path, agency_code: str, submitted_at: dt.datetime, batch_tag: str | None = None
) -> SheetResult:
    """Read every non-blank row of `path`; ids are stable for the same file bytes (idempotent)."""
    if submitted_at.tzinfo is None:
        raise ValueError("submitted_at must be timezone-aware")
    data = path.read_bytes()
    tag = batch_tag or _default_tag(path, data, agency_code)
    try:
        rows = _rows(path, data)
        columns = _header(rows[0] if rows else ())
    except _Unreadable as exc:
        return SheetResult(submissions=[], errors=[RowError(1, None, str(exc))], rows=0)
    submissions: list[RegistrationSubmittedV1] = []
    errors: list[RowError] = []
    count = 0
    for number, row in enumerate(rows[1:], start=2):
        if all(_text(cell) is None for cell in row):
            continue
        count += 1
        default_id = f"{agency_code}-{tag}-{number:06d}"
        outcome = _submission(number, row, columns, agency_code, submitted_at, default_id)
        if isinstance(outcome, list):
            errors.extend(outcome)
        else:
            submissions.append(outcome)
    return SheetResult(submissions=submissions, errors=errors, rows=count)
