"""Registration events: agencies' (OPD) submissions and their terminal outcomes (CONTRACT.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

Nik = Annotated[
    str,
    StringConstraints(pattern=r"^\d{16}$"),
    Field(description="Nomor Induk Kependudukan, 16 digits", examples=["3319014506900001"]),
]
VillageCode = Annotated[
    str,
    StringConstraints(pattern=r"^\d{10}$"),
    Field(description="Kemendagri village code without dots", examples=["3319012001"]),
]
Rupiah = Annotated[int, Field(description="an amount in whole Rupiah", examples=[16800])]
SubmissionId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    Field(description="the agency's own id of this submission", examples=["DISDAG-2025-000123"]),
]
AgencyCode = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32),
    Field(description="code of the proposing agency (OPD)", examples=["DISDAG"]),
]
EventId = Annotated[
    uuid.UUID,
    Field(description="deterministic UUID of this event's cause; readers de-duplicate by it"),
]


class ReasonCode(StrEnum):
    """Why a submission was rejected (CONTRACT.md, rejected)."""

    SCHEMA_INVALID = "SCHEMA_INVALID"
    UNKNOWN_AGENCY = "UNKNOWN_AGENCY"
    NIK_INVALID = "NIK_INVALID"
    NIK_MISMATCH = "NIK_MISMATCH"
    OUT_OF_REGION = "OUT_OF_REGION"
    AGE_OUT_OF_RANGE = "AGE_OUT_OF_RANGE"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    DECEASED = "DECEASED"


class Address(BaseModel):
    """Where the worker lives; domicile is judged on the village code."""

    model_config = ConfigDict(frozen=True, strict=True)

    village_code: VillageCode
    street: Annotated[
        str | None,
        Field(description="street, RT/RW", examples=["Jl. Sunan Muria 4 RT 02 RW 01"]),
    ] = None


class Worker(BaseModel):
    """The worker proposed for enrolment, as the agency submitted it (names are normalised)."""

    model_config = ConfigDict(frozen=True, strict=True)

    nik: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
        Field(
            description="NIK as submitted; its structure is checked by verification (NIK_INVALID)",
            examples=["3319014506900001"],
        ),
    ]
    full_name: Annotated[
        str,
        StringConstraints(min_length=1, max_length=200),
        Field(description="full name as on the KTP", examples=["Siti Aminah"]),
    ]
    birth_date: Annotated[dt.date, Field(description="YYYY-MM-DD", examples=["1990-06-05"])]
    sex: Annotated[Literal["F", "M"], Field(description="F or M", examples=["F"])]
    phone: Annotated[str | None, Field(examples=["+6281234567890"])] = None
    address: Address
    occupation: Annotated[
        str,
        StringConstraints(min_length=1, max_length=100),
        Field(description="informal occupation", examples=["pedagang pasar"]),
    ]
    dtsen_id: Annotated[
        str | None, Field(description="social-registry (DTSEN) id, if any", examples=[None])
    ] = None
    desil: Annotated[
        int | None, Field(ge=1, le=10, description="welfare decile 1-10", examples=[1])
    ] = None
    monthly_income: Annotated[
        int | None, Field(ge=0, description="declared monthly income, Rupiah", examples=[1500000])
    ] = None

    @field_validator("full_name", "occupation")
    @classmethod
    def _fold_spaces(cls, value: str) -> str:
        # the same as re.sub(r"\s+", " ", value).strip() (both split on str.isspace), in a
        # third of the time: two names per submission, validated in registration and again in
        # verification
        folded = " ".join(value.split())
        if not folded:
            raise ValueError("must not be blank")
        return folded


class RegistrationSubmittedV1(BaseModel):
    """`jamsos.registration.submitted.v1`: an agency asks to enrol one worker (key: NIK)."""

    model_config = ConfigDict(frozen=True, strict=True)

    submission_id: SubmissionId
    agency_code: AgencyCode
    submitted_at: Annotated[
        AwareDatetime,
        Field(
            description="when the agency submitted, with offset",
            examples=["2025-01-15T09:30:00+07:00"],
        ),
    ]
    worker: Worker


class Reason(BaseModel):
    """One reason a submission was rejected."""

    model_config = ConfigDict(frozen=True)

    code: Annotated[ReasonCode, Field(examples=["NIK_INVALID"])]
    detail: Annotated[str, Field(examples=["serial part is 0000"])]


class _Outcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: EventId
    # As submitted (a rejected submission's identity may itself break the 1-64 rule).
    submission_id: Annotated[str, Field(examples=["DISDAG-2025-000123"])]
    agency_code: Annotated[str, Field(examples=["DISDAG"])]
    nik: Annotated[str, Field(description="the NIK as submitted", examples=["3319014506900001"])]
    decided_at: Annotated[AwareDatetime, Field(examples=["2025-01-15T09:30:02+07:00"])]


class RegistrationDuplicateV1(_Outcome):
    """`jamsos.registration.duplicate.v1`: terminal, the NIK is already enrolled or in flight."""

    existing_membership_no: Annotated[
        str | None,
        Field(
            description="null while the other submission is still in flight",
            examples=["KDS-000000001"],
        ),
    ]
    existing_agency_code: Annotated[str, Field(examples=["DISHUB"])]
    match: Annotated[Literal["NIK"], Field(examples=["NIK"])] = "NIK"


class RegistrationRejectedV1(_Outcome):
    """`jamsos.registration.rejected.v1`: terminal, not eligible; every applicable reason."""

    reasons: Annotated[list[Reason], Field(min_length=1)]


class ReviewCandidate(BaseModel):
    """An existing participant that resembles the submitted worker."""

    model_config = ConfigDict(frozen=True)

    membership_no: str
    nik: Nik
    full_name: str
    birth_date: dt.date
    score: Annotated[float, Field(ge=0, le=1)]


class RegistrationReviewRequiredV1(_Outcome):
    """`jamsos.registration.review-required.v1`: held, looks like someone under another NIK."""

    candidates: list[ReviewCandidate]


class RegistrationReviewDecidedV1(BaseModel):
    """`jamsos.registration.review-decided.v1`: an operator resolves a held submission."""

    model_config = ConfigDict(frozen=True)

    agency_code: AgencyCode
    submission_id: SubmissionId
    decision: Literal["ENROL", "DUPLICATE"]
    decided_by: str
    decided_at: AwareDatetime


class RegistrationAcceptedV1(BaseModel):
    """Internal `jamsos.registration.accepted.v1`: identified, de-duplicated, to be verified."""

    model_config = ConfigDict(frozen=True)

    event_id: EventId
    received_at: AwareDatetime
    submission: RegistrationSubmittedV1
