"""Registration: identify each submission, reject what cannot be verified, de-duplicate by NIK.

One transaction per batch: submissions (the inbox), NIK claims, decisions and outbox events
commit together, and only then is the Kafka offset committed by the worker.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import ValidationError

from jamsos.adapters import outbox, repository
from jamsos.adapters.kafka import Inbound
from jamsos.adapters.outbox import OutboxEvent
from jamsos.adapters.repository import (
    Claim,
    DeadLetter,
    Decision,
    Holder,
    Identity,
    NewSubmission,
)
from jamsos.domain.eligibility import personal_reasons
from jamsos.domain.identity import event_id
from jamsos.domain.policy import Policy
from jamsos.usecases import idempotency
from jamsos.usecases.authentication import unauthenticated
from jamsos.usecases.deadletters import dead_letter
from jamsos.usecases.reading import field_errors, read_object, submission_digest
from jamsos_schemas import topics
from jamsos_schemas.registration import (
    Reason,
    ReasonCode,
    RegistrationAcceptedV1,
    RegistrationDuplicateV1,
    RegistrationRejectedV1,
    RegistrationSubmittedV1,
)


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
            if d.status == "REJECTED":
                self.reasons.update(str(r["code"]) for r in d.reasons or ())

    def dead_lettered(self, errors: Iterable[str]) -> None:
        """Count the dead letters written, by the error code their message starts with."""
        codes = [error_code(e) for e in errors]
        self.dead_letters.update(codes)
        self.count("DLQ", len(codes))

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


@dataclass(frozen=True)
class _Readable:
    record: Inbound
    identity: Identity
    payload: dict[str, Any]
    content_hash: str


def _read(record: Inbound) -> _Readable | str:
    """The submission's identity and JSON payload, or why it cannot be read."""
    payload = read_object(record.value)
    if isinstance(payload, str):
        return payload
    agency, sid = payload.get("agency_code"), payload.get("submission_id")
    missing = [
        name
        for name, v in (("agency_code", agency), ("submission_id", sid))
        if not isinstance(v, str) or not v.strip()
    ]
    if missing:
        return f"IDENTITY_MISSING: no usable {' or '.join(missing)}"
    assert isinstance(agency, str) and isinstance(sid, str)
    if len(agency) > MAX_IDENTITY or len(sid) > MAX_IDENTITY:
        # Too long to be kept as a key; a little too long is a readable identity and gets a
        # SCHEMA_INVALID outcome (the contract allows 1-64 characters).
        return f"IDENTITY_INVALID: agency_code or submission_id over {MAX_IDENTITY} characters"
    return _Readable(record, (agency, sid), payload, submission_digest(payload))


MAX_IDENTITY = 256
REUSED = "SUBMISSION_ID_REUSED: same (agency_code, submission_id) with different content"


def _identity(read: _Readable) -> Identity:
    return read.identity


def _digest(read: _Readable) -> str:
    return read.content_hash


def schema_reasons(error: ValidationError) -> list[Reason]:
    """Every field error of a submission as one SCHEMA_INVALID reason."""
    return [Reason(code=ReasonCode.SCHEMA_INVALID, detail=field_errors(error))]


def _worker_field(payload: dict[str, Any], *path: str) -> str | None:
    """A short string field of the worker, for indexing; None when absent or implausible."""
    node: Any = payload.get("worker")
    for name in path:
        node = node.get(name) if isinstance(node, dict) else None
    return node if isinstance(node, str) and len(node) <= 64 else None


def _rejected(identity: Identity, nik: str, reasons: list[Reason], now: dt.datetime) -> OutboxEvent:
    eid = event_id("rejected", *identity)
    event = RegistrationRejectedV1(
        event_id=eid,
        submission_id=identity[1],
        agency_code=identity[0],
        nik=nik,
        decided_at=now,
        reasons=reasons,
    )
    return OutboxEvent.of(topics.REJECTED, nik or None, event, eid)


async def _claim(
    conn: asyncpg.Connection, claims: list[Claim], now: dt.datetime
) -> tuple[set[Identity], dict[str, Holder]]:
    """Claim the NIKs; returns the submissions that won and the holders of the rest.

    A holder can release its claim (a rejection committing) between our insert and our look-up
    of the holder; then the NIK is simply claimed again.
    """
    won: set[Identity] = set()
    holders: dict[str, Holder] = {}
    pending = claims
    for _ in range(5):
        won |= await repository.claim_niks(conn, pending, now)
        pending = [c for c in pending if (c.agency_code, c.submission_id) not in won]
        holders |= await repository.claim_holders(conn, [c.nik for c in pending])
        pending = [c for c in pending if c.nik not in holders]
        if not pending:
            return won, holders
    raise RuntimeError("NIK claims kept changing hands; the batch will be redelivered")


async def register(
    pool: asyncpg.Pool, records: Sequence[Inbound], policy: Policy, now: dt.datetime
) -> BatchSummary:
    """Decide a batch of `registration.submitted` records in one transaction."""
    summary = BatchSummary(received=len(records))
    letters: list[tuple[DeadLetter, OutboxEvent]] = []
    readable: list[_Readable] = []
    for record in records:
        read = _read(record)
        if isinstance(read, _Readable):
            forged = unauthenticated(record, read.identity[0], policy)
            read = read if forged is None else forged
        if isinstance(read, str):
            letters.append(dead_letter(record, read, now))
        else:
            readable.append(read)
    first = idempotency.firsts(readable, _identity)

    rows = [
        NewSubmission(
            r.identity[0],
            r.identity[1],
            r.content_hash,
            _worker_field(r.payload, "nik"),
            _worker_field(r.payload, "address", "village_code"),
            r.record.value.decode("utf-8"),
        )
        for r in first.values()
    ]
    events: list[OutboxEvent] = []
    decisions: list[Decision] = []
    claims: list[Claim] = []
    accepted: dict[Identity, RegistrationSubmittedV1] = {}
    async with pool.acquire() as conn, conn.transaction():
        new = await repository.insert_submissions(conn, rows, now)
        stored = await repository.content_hashes(conn, [i for i in first if i not in new])
        batch = idempotency.sort_batch(readable, _identity, _digest, first, new, stored)
        summary.repeated = len(batch.repeated)
        letters += [dead_letter(r.record, REUSED, now) for r in batch.reused]
        for read in batch.fresh:
            identity = read.identity
            nik = _worker_field(read.payload, "nik") or ""
            agency = policy.agency(identity[0])
            try:
                submission = RegistrationSubmittedV1.model_validate_json(read.record.value)
            except ValidationError as error:
                reasons = schema_reasons(error)
                if agency is None:
                    reasons.append(_unknown_agency(identity[0]))
            else:
                reasons = (
                    []
                    if agency is not None
                    else [
                        _unknown_agency(identity[0]),
                        *personal_reasons(submission.worker, submission.submitted_at, policy),
                    ]
                )
                if not reasons:
                    claims.append(Claim(submission.worker.nik, *identity))
                    accepted[identity] = submission
                    continue
            decisions.append(Decision(*identity, "REJECTED", [r.model_dump() for r in reasons]))
            events.append(_rejected(identity, nik, reasons, now))
        won, holders = await _claim(conn, claims, now)
        for claim in claims:
            identity = (claim.agency_code, claim.submission_id)
            if identity in won:
                eid = event_id("accepted", *identity)
                event = RegistrationAcceptedV1(
                    event_id=eid, received_at=now, submission=accepted[identity]
                )
                events.append(OutboxEvent.of(topics.ACCEPTED, claim.nik, event, eid))
                summary.count("ACCEPTED")
                continue
            holder = holders[claim.nik]
            decisions.append(
                Decision(
                    *identity,
                    "DUPLICATE",
                    existing_agency_code=holder.agency_code,
                    membership_no=None,
                )
            )
            eid = event_id("duplicate", *identity)
            duplicate = RegistrationDuplicateV1(
                event_id=eid,
                submission_id=identity[1],
                agency_code=identity[0],
                nik=claim.nik,
                decided_at=now,
                existing_membership_no=holder.membership_no,
                existing_agency_code=holder.agency_code,
            )
            events.append(OutboxEvent.of(topics.DUPLICATE, claim.nik, duplicate, eid))
        summary.decided(decisions)
        summary.dead_lettered(d.error for d, _ in letters)
        await repository.record_decisions(conn, decisions, now)
        await repository.add_dead_letters(conn, [d for d, _ in letters], now)
        await outbox.add(conn, [*events, *(e for _, e in letters)])
    summary.new = len(new)
    return summary


def _unknown_agency(code: str) -> Reason:
    return Reason(code=ReasonCode.UNKNOWN_AGENCY, detail=f"agency {code!r} is not registered")
