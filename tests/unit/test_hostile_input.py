"""Hostile input (issue 10 item 6), property-based: every input topic's decoder and the CSV/XLSX
reader turn any bytes into a value or a reason, never an exception. Example counts come from the
hypothesis profile (tests/conftest.py): `default` keeps the unit suite quick,
`HYPOTHESIS_PROFILE=fuzz` runs many more."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from pathlib import Path
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from jamsos.adapters.spreadsheet import read_workers
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.eligibility import personal_reasons
from jamsos.domain.policy import Policy
from jamsos.settings import load_settings
from jamsos.usecases import billing, outcomes, reading, registration, termination
from jamsos.usecases.messages import Message
from jamsos.usecases.reading import read_object
from jamsos.usecases.rows import SheetResult
from jamsos_schemas import topics
from jamsos_schemas.participant import ParticipantTerminationRequestedV1
from jamsos_schemas.registration import (
    RegistrationAcceptedV1,
    RegistrationReviewDecidedV1,
    RegistrationSubmittedV1,
)
from tests.factory import submission

POLICY: Policy = load_settings(env={}, cwd=Path("/nonexistent")).policy
NOW = dt.datetime(2025, 1, 20, 10, 0, tzinfo=JAKARTA)

# Text meant to break names and ids: combining marks, RTL override, zero-width, NUL, surrogate
# look-alikes, and digits that are not ASCII (Arabic-Indic, fullwidth, Devanagari).
TRICKS = [
    "a\u0301\u0301\u0301",
    "\u202esiti\u202c",
    "si\u200bti",
    "\u200f\u200e",
    "nul\x00here",
    "\ufeff",
    "٣٣١٩٠١٤٥٠٦٩٠٠٠٠١",
    "３３１９０１４５０６９００００１",
    "३३१९०१४५०६९००००१",
    "x" * 100_000,
    "",
    " ",
]
tricky_text = st.one_of(st.sampled_from(TRICKS), st.text(max_size=80))
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | tricky_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4)
    ),
    max_leaves=20,
)
WORKER_FIELDS = [
    "nik",
    "full_name",
    "birth_date",
    "sex",
    "phone",
    "address",
    "occupation",
    "dtsen_id",
    "desil",
    "monthly_income",
]
HOSTILE_VALUES = [
    "1990-02-30",
    "0000-00-00",
    -1,
    -(10**20),
    10**400,
    1.5,
    True,
    None,
    [],
    {},
]


@st.composite
def mutated_submission(draw: st.DrawFn) -> bytes:
    """The contract example with some worker fields replaced by hostile values."""
    payload: dict[str, Any] = submission()
    for name in draw(st.lists(st.sampled_from(WORKER_FIELDS), max_size=4, unique=True)):
        payload["worker"][name] = draw(
            st.one_of(st.sampled_from(HOSTILE_VALUES), tricky_text, json_values)
        )
    if draw(st.booleans()):
        payload[draw(st.sampled_from(["submission_id", "agency_code", "submitted_at"]))] = draw(
            json_values
        )
    return json.dumps(payload).encode()


@st.composite
def truncated(draw: st.DrawFn) -> bytes:
    """A valid submission cut anywhere."""
    value = json.dumps(submission()).encode()
    return value[: draw(st.integers(min_value=0, max_value=len(value)))]


hostile_bytes = st.one_of(
    st.binary(max_size=2000),
    mutated_submission(),
    truncated(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=200_000).map(lambda n: b"[" * n),
    st.integers(min_value=1, max_value=50_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.just(b"{" + b'"k":"' + b"x" * 2_000_000 + b'"}'),  # an oversized message
)


def inbound(topic: str, value: bytes) -> Message:
    return Message(topic, 0, 0, None, value)


def is_dead_letter_error(text: str) -> bool:
    return outcomes.error_code(text) != "OTHER"


@given(hostile_bytes)
def test_read_object_of_any_bytes_is_an_object_or_a_reason(value: bytes) -> None:
    result = read_object(value)
    assert isinstance(result, dict) or is_dead_letter_error(result)


# A NIK or village code in non-ASCII digits (Python's isdigit() and a `\d` pattern take them)
# must never pass as one: the same person would be enrolled under two spellings of a NIK.
ARABIC_NIK = json.dumps(submission(worker__nik="٣٣١٩٠١٤٥٠٦٩٠٠٠٠١")).encode()
FULLWIDTH_VILLAGE = json.dumps(
    submission(worker__address={"village_code": "３３１９０１２００１", "street": "Jl. 1"})
).encode()


@given(hostile_bytes)
@example(ARABIC_NIK)
@example(FULLWIDTH_VILLAGE)
def test_submission_decoder_of_any_bytes_ends_as_a_dead_letter_an_outcome_or_accepted(
    value: bytes,
) -> None:
    """What `register` does with one record before the database: a dead letter, or a
    readable identity whose payload either fails validation (SCHEMA_INVALID) or is judged."""
    read = registration._read(inbound(topics.SUBMITTED, value))
    if isinstance(read, str):
        assert is_dead_letter_error(read)
        return
    assert read.text == value.decode("utf-8")  # stored as the payload text
    assert read.nik is None or len(read.nik) <= 64  # indexed columns
    assert read.village_code is None or len(read.village_code) <= 64
    try:
        valid = RegistrationSubmittedV1.model_validate_json(value)
    except ValidationError as error:
        [reason] = reading.schema_reasons(error)
        assert reason.detail
        return
    reasons = {r.code for r in personal_reasons(valid.worker, valid.submitted_at, POLICY)}
    if not (valid.worker.nik.isascii() and valid.worker.nik.isdigit()):
        assert "NIK_INVALID" in reasons  # verification rejects it; never a second spelling
    if not valid.worker.address.village_code.isascii():
        assert "OUT_OF_REGION" in reasons


@given(hostile_bytes)
@example(
    json.dumps(
        {
            **json.loads(ARABIC_NIK)["worker"],
            "request_id": "T",
            "agency_code": "X",
            "reason": "WITHDRAWN",
            "effective_date": "2025-01-01",
        }
    ).encode()
)
def test_termination_decoder_of_any_bytes_is_a_request_or_a_dead_letter(value: bytes) -> None:
    read = termination._read(inbound(topics.TERMINATION_REQUESTED, value))
    if isinstance(read, str):
        assert is_dead_letter_error(read)
    else:
        assert isinstance(read.request, ParticipantTerminationRequestedV1)


@given(hostile_bytes)
def test_billing_decoders_of_any_bytes_are_a_value_or_a_dead_letter(value: bytes) -> None:
    run = billing._read_run(inbound(topics.BILLING_RUN_REQUESTED, value))
    assert not isinstance(run, str) or is_dead_letter_error(run)
    for topic in (topics.ENROLLED, topics.TERMINATED):
        change = billing.read_record(inbound(topic, value))
        assert not isinstance(change, str) or is_dead_letter_error(change)


@given(hostile_bytes)
def test_review_and_accepted_decoders_raise_only_validation_errors(value: bytes) -> None:
    """`decide_reviews` and `verify` dead-letter a ValidationError; nothing else may escape."""
    for model in (RegistrationReviewDecidedV1, RegistrationAcceptedV1):
        with contextlib.suppress(ValidationError):
            model.model_validate_json(value)


@given(
    st.sampled_from([".csv", ".xlsx"]),
    st.one_of(
        st.binary(max_size=4000),
        st.lists(st.lists(tricky_text, max_size=12), max_size=6).map(
            lambda rows: "\n".join(",".join(json.dumps(c) for c in row) for row in rows).encode()
        ),
    ),
)
def test_spreadsheet_reader_of_any_bytes_gives_rows_or_a_file_error(
    tmp_path_factory: Any, suffix: str, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("sheet") / f"upload{suffix}"
    path.write_bytes(data)
    result = read_workers(path, "DISDAG", NOW)
    assert isinstance(result, SheetResult)
    assert result.file_errors or all(line.number >= 2 for line in result.lines)


HEADER = (
    "nik,nama_lengkap,tanggal_lahir,jenis_kelamin,no_hp,"
    "kode_desa,alamat,pekerjaan,desil,penghasilan"
)


@given(
    st.lists(
        st.lists(st.one_of(st.sampled_from(TRICKS), tricky_text), min_size=10, max_size=10),
        min_size=1,
        max_size=5,
    )
)
def test_spreadsheet_rows_of_hostile_cells_are_row_errors_or_valid_submissions(
    tmp_path_factory: Any, rows: list[list[str]]
) -> None:
    path = tmp_path_factory.mktemp("sheet") / "upload.csv"
    body = "\n".join(",".join(json.dumps(c) for c in row) for row in rows)
    path.write_text(HEADER + "\n" + body, "utf-8")
    result = read_workers(path, "DISDAG", NOW)
    for line in result.lines:
        assert line.errors or line.submission is not None
        if line.submission is not None:
            assert line.submission.worker.nik.isascii()
