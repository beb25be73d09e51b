"""What a batch did: outcome kinds, dead-letter error codes, and the per-batch summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from jamsos.usecases.rows import Decision, SubmissionStatus


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
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    PROCESSING_FAILED = "PROCESSING_FAILED"

    def of(self, detail: object) -> str:
        """The error text: `CODE: detail`."""
        return f"{self.value}: {detail}"


@dataclass
class BatchSummary:
    """What a batch's transaction committed, for logs, metrics and tests.

    `outcomes` (decision status, agency_code), `reasons` (reason codes of rejections) and
    `dead_letters` (error codes) hold only what this transaction newly wrote: a redelivered
    batch adds nothing, so a counter fed from committed summaries counts each outcome once.
    """

    received: int = 0
    new: int = 0
    repeated: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: str, n: int = 1) -> None:
        """Count `n` of one outcome."""
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    def decided(self, decisions: Iterable[Decision]) -> None:
        """Count the decisions written: status, agency and the codes of every rejection."""
        for d in decisions:
            self.count(d.status)
            self.outcomes[(d.status, d.agency_code)] += 1
            if d.status == SubmissionStatus.REJECTED:
                self.reasons.update(str(r["code"]) for r in d.reasons or ())

    def dead_lettered(self, errors: Iterable[str]) -> None:
        """Count the dead letters written, by the error code their message starts with."""
        codes = [error_code(e) for e in errors]
        self.dead_letters.update(codes)
        self.count(Outcome.DLQ, len(codes))

    def add(self, other: BatchSummary) -> None:
        """Fold a sub-batch's summary into this one."""
        self.new += other.new
        self.repeated += other.repeated
        for name, n in other.counts.items():
            self.count(name, n)
        self.outcomes.update(other.outcomes)
        self.reasons.update(other.reasons)
        self.dead_letters.update(other.dead_letters)


def error_code(error: str) -> str:
    """The code a dead letter's error starts with (`SCHEMA_INVALID: …` → `SCHEMA_INVALID`)."""
    head = error.split(":", 1)[0].strip()
    return head if head and head.replace("_", "").isalnum() and head.isupper() else "OTHER"
