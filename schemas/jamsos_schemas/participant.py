"""Participant events: enrolment, termination requests and recorded terminations (CONTRACT.md)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jamsos_schemas.enums import TerminationReason as TerminationReason
from jamsos_schemas.registration import (
    AgencyCode,
    EventId,
    Nik,
    Rupiah,
    SubmissionId,
    Worker,
)


class Program(StrEnum):
    """BPJS Ketenagakerjaan programs the regency pays for."""

    JKK = "JKK"
    JKM = "JKM"


class MonthlyPremium(BaseModel):
    """Monthly premium per program, whole Rupiah."""

    model_config = ConfigDict(frozen=True)

    JKK: Rupiah
    JKM: Rupiah
    total: Rupiah


class ParticipantEnrolledV1(BaseModel):
    """`jamsos.participant.enrolled.v1`: terminal, the worker is covered from `coverage_start`."""

    model_config = ConfigDict(frozen=True)

    event_id: EventId
    submission_id: SubmissionId
    agency_code: AgencyCode
    nik: Nik
    decided_at: AwareDatetime
    membership_no: Annotated[
        str, Field(description="stable per NIK, kept on re-enrolment", examples=["KDS-000000001"])
    ]
    enrolled_at: AwareDatetime
    coverage_start: Annotated[dt.date, Field(description="first day of the first covered month")]
    programs: Annotated[list[Program], Field(examples=[["JKK", "JKM"]])]
    monthly_premium: MonthlyPremium
    payer_code: Annotated[str, Field(examples=["PEMKAB-KUDUS"])]
    funding_source: Annotated[str, Field(examples=["APBD", "DBHCHT"])]
    worker: Worker


class ParticipantTerminationRequestedV1(BaseModel):
    """`jamsos.participant.termination-requested.v1`: an agency asks to end someone's coverage."""

    model_config = ConfigDict(frozen=True, strict=True)

    request_id: Annotated[str, Field(min_length=1, max_length=64, examples=["DINSOS-T-0001"])]
    agency_code: AgencyCode
    nik: Nik
    reason: TerminationReason
    effective_date: Annotated[dt.date, Field(examples=["2025-03-10"])]


class ParticipantTerminatedV1(BaseModel):
    """`jamsos.participant.terminated.v1`: the coverage end was recorded (or the NIK is unknown)."""

    model_config = ConfigDict(frozen=True)

    event_id: EventId
    request_id: str
    agency_code: AgencyCode
    nik: Nik
    reason: TerminationReason
    effective_date: dt.date
    status: Annotated[Literal["TERMINATED", "NOT_FOUND"], Field(examples=["TERMINATED"])]
    membership_no: str | None = None
    coverage_start: Annotated[
        dt.date | None, Field(description="start of the coverage period that ends")
    ] = None
    coverage_end: Annotated[
        dt.date | None, Field(description="last day of the month of effective_date")
    ] = None
    decided_at: AwareDatetime
