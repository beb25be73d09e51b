"""What a batch did: outcome kinds, dead-letter error codes, and the per-batch summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """What happened to one message (the keys of BatchSummary.counts)."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    DUPLICATE = "DUPLICATE"
    REVIEW = "REVIEW"
    ENROLLED = "ENROLLED"
    TERMINATED = "TERMINATED"
    NOT_FOUND = "NOT_FOUND"
    IGNORED = "IGNORED"
    ISSUED = "ISSUED"
    NOTHING_NEW = "NOTHING_NEW"
    FAILED = "FAILED"
    REPEATED = "REPEATED"
    DLQ = "DLQ"


class DeadLetterError(StrEnum):
    """The code a dead letter's `error` starts with (`CODE: detail`)."""

    UNREADABLE = "UNREADABLE"
    IDENTITY_MISSING = "IDENTITY_MISSING"
    IDENTITY_INVALID = "IDENTITY_INVALID"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    SUBMISSION_ID_REUSED = "SUBMISSION_ID_REUSED"
    REQUEST_ID_REUSED = "REQUEST_ID_REUSED"
    UNKNOWN_AGENCY = "UNKNOWN_AGENCY"
    NOT_HELD = "NOT_HELD"
    REVIEW_DECISION_CONFLICT = "REVIEW_DECISION_CONFLICT"
    UNEXPECTED_TOPIC = "UNEXPECTED_TOPIC"
    NO_TARIFF = "NO_TARIFF"
    PROCESSING_FAILED = "PROCESSING_FAILED"

    def of(self, detail: object) -> str:
        """The error text: `CODE: detail`."""
        return f"{self.value}: {detail}"


@dataclass
class BatchSummary:
    """What a batch did, for logs and tests."""

    received: int = 0
    new: int = 0
    repeated: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        """Count one outcome."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
