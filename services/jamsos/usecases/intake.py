"""A clerk's file against what the agency submitted before: which rows to publish, and one
result line per row (Indonesian words, contract codes).

Each row's submission id is derived from its content (adapters.spreadsheet), so:
- *unchanged*: the id is already recorded with the same content → nothing is sent; the row
  shows that submission's outcome;
- *corrected*: a new id for a NIK this agency submitted before → a new submission, unless one
  of the agency's own submissions still holds the NIK (in flight, held, or actively enrolled):
  sending it would only give the agency a duplicate of itself, so it is *not sent* and the row
  shows the holding submission's outcome;
- *new*: nothing of this agency for that NIK → sent (if another agency holds the NIK, the
  contract's `duplicate` names it: a true duplicate);
- a submission id given in the file and already recorded with other content is a row error
  (it would be SUBMISSION_ID_REUSED), and nothing is sent for it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from jamsos.domain.clerk_texts import OUTCOME_TEXT, reason_text
from jamsos.usecases.reading import submission_digest
from jamsos.usecases.rows import Known, RowError, SheetRow
from jamsos_schemas.registration import RegistrationSubmittedV1


class Kind(StrEnum):
    """How a row relates to what the agency submitted before."""

    NEW = "NEW"
    UNCHANGED = "UNCHANGED"
    CORRECTED = "CORRECTED"
    NOT_SENT = "NOT_SENT"  # corrected, but the agency's own earlier submission holds the NIK
    ERROR = "ERROR"


_NOTE = {
    Kind.NEW: "baru",
    Kind.UNCHANGED: "sudah dikirim sebelumnya, tidak dikirim ulang",
    Kind.CORRECTED: "perbaikan, dikirim sebagai pengajuan baru",
    Kind.NOT_SENT: (
        "perbaikan tidak dikirim: pekerja ini sudah terdaftar atau sedang diproses dari kiriman"
        " sebelumnya; perubahan data peserta terdaftar melalui operator"
    ),
    Kind.ERROR: "tidak dikirim",
}


@dataclass(frozen=True)
class Planned:
    """One row of the file and what to do with it."""

    line: SheetRow
    kind: Kind
    shows: str | None  # the submission id whose outcome this row reports

    @property
    def publish(self) -> bool:
        """Whether this row is sent now."""
        return self.kind in (Kind.NEW, Kind.CORRECTED)


def payload_bytes(submission: RegistrationSubmittedV1) -> bytes:
    """The exact bytes published for a submission (also how its dead letter is found)."""
    return submission.model_dump_json().encode("utf-8")


def digest(submission: RegistrationSubmittedV1) -> str:
    """The content identity registration stores for this submission."""
    payload = json.loads(payload_bytes(submission))
    return submission_digest(payload)


def lookup_keys(lines: Sequence[SheetRow]) -> tuple[list[str], list[str]]:
    """The submission ids and NIKs to look up for these rows."""
    ids = [line.submission.submission_id for line in lines if line.submission is not None]
    niks = [line.nik for line in lines if line.nik]
    return ids, niks


def plan(lines: Sequence[SheetRow], known: Sequence[Known]) -> list[Planned]:
    """Sort each row into new / unchanged / corrected / not sent / error (see the module)."""
    by_id = {k.submission_id: k for k in known}
    holder = {k.nik: k for k in known if k.holds_claim and k.nik}
    submitted_niks = {k.nik for k in known if k.nik}
    planned: list[Planned] = []
    for line in lines:
        submission = line.submission
        if submission is None or line.errors:
            planned.append(Planned(line, Kind.ERROR, None))
            continue
        sid = submission.submission_id
        earlier = by_id.get(sid)
        if earlier is not None:
            if earlier.content_hash == digest(submission):
                planned.append(Planned(line, Kind.UNCHANGED, sid))
                continue
            message = (
                f"ID pengajuan {sid!r} sudah dipakai untuk data lain (SUBMISSION_ID_REUSED):"
                " pakai ID baru atau kosongkan kolom submission_id"
            )
            line.errors.append(RowError(line.number, "submission_id", message))
            planned.append(Planned(line, Kind.ERROR, None))
            continue
        nik = submission.worker.nik
        if nik in holder:
            planned.append(Planned(line, Kind.NOT_SENT, holder[nik].submission_id))
        elif nik in submitted_niks:
            planned.append(Planned(line, Kind.CORRECTED, sid))
        else:
            planned.append(Planned(line, Kind.NEW, sid))
    return planned


@dataclass(frozen=True)
class ResultLine:
    """One line of the result file: one input row and its fate."""

    row: int
    nik: str
    name: str
    code: str  # a contract outcome, REVIEW_REQUIRED, IN_PROCESS, DEAD_LETTER or ROW_ERROR
    outcome: str  # the code in Indonesian
    detail: str
    note: str


_STATUS_CODE = {
    "ENROLLED": "ENROLLED",
    "DUPLICATE": "DUPLICATE",
    "REJECTED": "REJECTED",
    "REVIEW": "REVIEW_REQUIRED",
    "RECEIVED": "IN_PROCESS",
}


def _date(day: dt.date | None) -> str:
    return "" if day is None else day.strftime("%d-%m-%Y")


def outcome_detail(known: Known) -> tuple[str, str]:
    """The result code of a recorded submission and its detail in Indonesian."""
    code = _STATUS_CODE[known.status]
    if code == "ENROLLED":
        start = _date(known.coverage_start)
        detail = f"No. peserta {known.membership_no}" + (
            f", berlaku mulai {start}" if start else ""
        )
    elif code == "DUPLICATE":
        detail = f"NIK sudah diajukan oleh {known.existing_agency_code}"
        if known.existing_membership_no:
            detail += f" (No. peserta {known.existing_membership_no})"
    elif code == "REJECTED":
        detail = "; ".join(reason_text(str(r.get("code"))) for r in known.reasons)
    elif code == "REVIEW_REQUIRED":
        detail = "mirip peserta lain dengan NIK berbeda; menunggu keputusan operator"
    else:
        detail = "sudah diterima, hasil belum ada"
    return code, detail


def results(
    planned: Sequence[Planned],
    outcomes: Mapping[str, Known],
    dead: Mapping[str, str],
    sent: bool = True,
) -> list[ResultLine]:
    """Exactly one result line per planned row, in file order.

    `outcomes` are the recorded submissions by id; `dead` the DLQ error of published ids;
    `sent` says whether the rows to publish were just published (`submit`) or not (`status`:
    such a row was never sent, or was changed since).
    """
    lines: list[ResultLine] = []
    for p in planned:
        line = p.line
        nik, name = line.nik or "", line.name or ""
        note = _NOTE[p.kind]
        if p.kind is Kind.ERROR:
            detail = "; ".join(
                f"{e.column}: {e.message}" if e.column else e.message for e in line.errors
            )
            code = "ROW_ERROR"
        elif p.shows is not None and p.shows in dead:
            code, detail = "DEAD_LETTER", dead[p.shows]
        elif p.shows is not None and p.shows in outcomes:
            code, detail = outcome_detail(outcomes[p.shows])
        elif not sent:
            code, detail = (
                "NOT_SUBMITTED",
                "baris ini belum pernah dikirim (atau diubah sesudahnya)",
            )
            note = "kirim dengan jamsos submit"
        else:
            code, detail = "IN_PROCESS", "terkirim, belum diterima oleh sistem"
        lines.append(ResultLine(line.number, nik, name, code, OUTCOME_TEXT[code], detail, note))
    return lines
