"""The contract's names, as written in CONTRACT.md, pinned as literals (not imported from
jamsos_schemas): a rename in the code breaks outside readers and must break this test."""

from __future__ import annotations

import re

from jamsos.domain.invoicing import invoice_no
from jamsos.domain.period import Period
from jamsos_schemas import topics
from jamsos_schemas.billing import InvoiceIssuedV1, InvoiceLine, InvoiceTotals
from jamsos_schemas.dlq import DeadLetterV1
from jamsos_schemas.participant import (
    MonthlyPremium,
    ParticipantEnrolledV1,
    ParticipantTerminationRequestedV1,
    TerminationReason,
)
from jamsos_schemas.registration import (
    ReasonCode,
    RegistrationDuplicateV1,
    RegistrationRejectedV1,
    RegistrationReviewRequiredV1,
    RegistrationSubmittedV1,
    ReviewCandidate,
)

CONTRACT_TOPICS = {
    "jamsos.registration.submitted.v1",
    "jamsos.registration.duplicate.v1",
    "jamsos.registration.rejected.v1",
    "jamsos.registration.review-required.v1",
    "jamsos.registration.review-decided.v1",
    "jamsos.participant.enrolled.v1",
    "jamsos.participant.termination-requested.v1",
    "jamsos.participant.terminated.v1",
    "jamsos.billing.run-requested.v1",
    "jamsos.billing.invoice-issued.v1",
    "jamsos.dlq.v1",
}
REASON_CODES = {
    "SCHEMA_INVALID",
    "UNKNOWN_AGENCY",
    "NIK_INVALID",
    "NIK_MISMATCH",
    "OUT_OF_REGION",
    "AGE_OUT_OF_RANGE",
    "QUOTA_EXCEEDED",
    "DECEASED",
}
OUTCOME_FIELDS = {"event_id", "submission_id", "agency_code", "nik", "decided_at"}
DUPLICATE_FIELDS = OUTCOME_FIELDS | {"existing_membership_no", "existing_agency_code", "match"}
REJECTED_FIELDS = OUTCOME_FIELDS | {"reasons"}
REVIEW_FIELDS = OUTCOME_FIELDS | {"candidates"}
CANDIDATE_FIELDS = {"membership_no", "nik", "full_name", "birth_date", "score"}
ENROLLED_FIELDS = OUTCOME_FIELDS | {
    "membership_no",
    "enrolled_at",
    "coverage_start",
    "programs",
    "monthly_premium",
    "payer_code",
    "funding_source",
    "worker",
}
PREMIUM_FIELDS = {"JKK", "JKM", "total"}
SUBMISSION_FIELDS = {"submission_id", "agency_code", "submitted_at", "worker"}
TERMINATION_REQUEST_FIELDS = {"request_id", "agency_code", "nik", "reason", "effective_date"}
TERMINATION_REASONS = {"DECEASED", "MOVED_OUT", "FORMAL_EMPLOYMENT", "WITHDRAWN"}
INVOICE_FIELDS = {
    "event_id",
    "invoice_no",
    "kind",
    "payer_code",
    "period",
    "issued_at",
    "currency",
    "lines",
    "totals",
}
INVOICE_LINE_FIELDS = {"agency_code", "funding_source", "participants", "jkk", "jkm", "amount"}
INVOICE_TOTAL_FIELDS = {"participants", "jkk", "jkm", "amount"}
DLQ_FIELDS = {
    "event_id",
    "source_topic",
    "partition",
    "offset",
    "key",
    "value_b64",
    "error",
    "failed_at",
}
# `JMS-{payer}-{YYYYMM}-{seq:02}`
INVOICE_NO = re.compile(r"JMS-(?P<payer>[A-Z0-9-]+)-(?P<yyyymm>\d{6})-(?P<seq>\d{2,})")


def fields(model: type) -> set[str]:
    """The JSON field names of a model, as a reader of the event sees them."""
    return set(model.model_json_schema(by_alias=True)["properties"])  # type: ignore[attr-defined]


def test_contract_topics_are_exactly_the_names_in_the_contract() -> None:
    assert set(topics.CONTRACT_TOPICS) == CONTRACT_TOPICS
    assert set(topics.ALL_TOPICS) >= CONTRACT_TOPICS


def test_rejection_reason_codes_are_exactly_the_contract_codes() -> None:
    assert {code.value for code in ReasonCode} == REASON_CODES


def test_outcome_events_carry_every_contract_field() -> None:
    assert fields(RegistrationDuplicateV1) >= DUPLICATE_FIELDS
    assert fields(RegistrationRejectedV1) >= REJECTED_FIELDS
    assert fields(RegistrationReviewRequiredV1) >= REVIEW_FIELDS
    assert fields(ReviewCandidate) == CANDIDATE_FIELDS
    assert fields(ParticipantEnrolledV1) >= ENROLLED_FIELDS
    assert fields(MonthlyPremium) == PREMIUM_FIELDS


def test_input_and_billing_payloads_carry_every_contract_field() -> None:
    assert fields(RegistrationSubmittedV1) == SUBMISSION_FIELDS
    assert fields(ParticipantTerminationRequestedV1) >= TERMINATION_REQUEST_FIELDS
    assert {r.value for r in TerminationReason} == TERMINATION_REASONS
    assert fields(InvoiceIssuedV1) == INVOICE_FIELDS
    assert fields(InvoiceLine) == INVOICE_LINE_FIELDS
    assert fields(InvoiceTotals) == INVOICE_TOTAL_FIELDS
    assert fields(DeadLetterV1) == DLQ_FIELDS


def test_invoice_nos_follow_the_contract_format() -> None:
    assert invoice_no("PEMKAB-KUDUS", Period(2025, 2), 1) == "JMS-PEMKAB-KUDUS-202502-01"
    assert invoice_no("PEMKAB-KUDUS", Period(2025, 12), 12) == "JMS-PEMKAB-KUDUS-202512-12"
    match = INVOICE_NO.fullmatch(invoice_no("PEMKAB-KUDUS", Period(2026, 1), 3))
    assert match is not None
    assert match.group("payer", "yyyymm", "seq") == ("PEMKAB-KUDUS", "202601", "03")
