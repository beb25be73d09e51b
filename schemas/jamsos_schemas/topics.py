"""Every topic name of the contract, plus the internal ones, with default partition counts."""

from typing import Final

SUBMITTED: Final = "jamsos.registration.submitted.v1"
DUPLICATE: Final = "jamsos.registration.duplicate.v1"
REJECTED: Final = "jamsos.registration.rejected.v1"
REVIEW_REQUIRED: Final = "jamsos.registration.review-required.v1"
REVIEW_DECIDED: Final = "jamsos.registration.review-decided.v1"
ENROLLED: Final = "jamsos.participant.enrolled.v1"
TERMINATION_REQUESTED: Final = "jamsos.participant.termination-requested.v1"
TERMINATED: Final = "jamsos.participant.terminated.v1"
BILLING_RUN_REQUESTED: Final = "jamsos.billing.run-requested.v1"
INVOICE_ISSUED: Final = "jamsos.billing.invoice-issued.v1"
DLQ: Final = "jamsos.dlq.v1"

# Internal: registration -> verification, an accepted (identified, de-duplicated) submission.
ACCEPTED: Final = "jamsos.registration.accepted.v1"

CONTRACT_TOPICS: Final = (
    SUBMITTED,
    DUPLICATE,
    REJECTED,
    REVIEW_REQUIRED,
    REVIEW_DECIDED,
    ENROLLED,
    TERMINATION_REQUESTED,
    TERMINATED,
    BILLING_RUN_REQUESTED,
    INVOICE_ISSUED,
    DLQ,
)
INTERNAL_TOPICS: Final = (ACCEPTED,)
ALL_TOPICS: Final = CONTRACT_TOPICS + INTERNAL_TOPICS

DEFAULT_PARTITIONS: Final = 6
