"""Registration: identify each submission, reject what cannot be verified, de-duplicate by NIK.

One transaction per batch: submissions (the inbox), NIK claims, decisions and outbox events
commit together, and only then is the Kafka offset committed by the worker.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from jamsos.domain.eligibility import personal_reasons, unknown_agency
from jamsos.domain.identity import event_id
from jamsos.domain.policy import Policy
from jamsos.usecases import idempotency
from jamsos.usecases.authentication import unauthenticated
from jamsos.usecases.deadletters import dead_letter
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, DeadLetterError, Outcome
from jamsos.usecases.ports import RegistrationStore, UnitOfWork
from jamsos.usecases.reading import read_text_object, schema_reasons, submission_digest
from jamsos.usecases.rows import (
    Claim,
    DeadLetter,
    Decision,
    Holder,
    Identity,
    NewSubmission,
    OutboxEvent,
    SubmissionStatus,
)
from jamsos_schemas import topics
from jamsos_schemas.registration import (
    Reason,
    RegistrationAcceptedV1,
    RegistrationDuplicateV1,
    RegistrationRejectedV1,
    RegistrationSubmittedV1,
)


@dataclass(frozen=True, slots=True)
class _Readable:
    record: Message
    identity: Identity
    text: str  # the value, decoded
    content_hash: str
    nik: str | None  # the worker's, for indexing (see _worker_field)
    village_code: str | None


def _read(record: Message) -> _Readable | str:
    """The submission's identity and JSON payload, or why it cannot be read."""
    read = read_text_object(record.value)
    if isinstance(read, str):
        return read
    text, payload = read
    agency, sid = payload.get("agency_code"), payload.get("submission_id")
    missing = [
        name
        for name, v in (("agency_code", agency), ("submission_id", sid))
        if not isinstance(v, str) or not v.strip()
    ]
    if missing:
        return DeadLetterError.IDENTITY_MISSING.of(f"no usable {' or '.join(missing)}")
    assert isinstance(agency, str) and isinstance(sid, str)
    if len(agency) > MAX_IDENTITY or len(sid) > MAX_IDENTITY:
        # Too long to be kept as a key; a little too long is a readable identity and gets a
        # SCHEMA_INVALID outcome (the contract allows 1-64 characters).
        return DeadLetterError.IDENTITY_INVALID.of(
            f"agency_code or submission_id over {MAX_IDENTITY} characters"
        )
    return _Readable(
        record,
        (agency, sid),
        text,
        submission_digest(payload),
        _worker_field(payload, "nik"),
        _worker_field(payload, "address", "village_code"),
    )


MAX_IDENTITY = 256
REUSED = DeadLetterError.SUBMISSION_ID_REUSED.of(
    "same (agency_code, submission_id) with different content"
)


def _identity(read: _Readable) -> Identity:
    return read.identity


def _digest(read: _Readable) -> str:
    return read.content_hash


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
    store: RegistrationStore, claims: list[Claim], now: dt.datetime
) -> tuple[set[Identity], dict[str, Holder]]:
    """Claim the NIKs; returns the submissions that won and the holders of the rest.

    A holder can release its claim (a rejection committing) between our insert and our look-up
    of the holder; then the NIK is simply claimed again.
    """
    won: set[Identity] = set()
    holders: dict[str, Holder] = {}
    pending = claims
    for _ in range(5):
        won |= await store.claim_niks(pending, now)
        pending = [c for c in pending if (c.agency_code, c.submission_id) not in won]
        holders |= await store.claim_holders([c.nik for c in pending])
        pending = [c for c in pending if c.nik not in holders]
        if not pending:
            return won, holders
    raise RuntimeError("NIK claims kept changing hands; the batch will be redelivered")


async def register(
    uow: UnitOfWork[RegistrationStore],
    records: Sequence[Message],
    policy: Policy,
    now: dt.datetime,
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
        NewSubmission(r.identity[0], r.identity[1], r.content_hash, r.nik, r.village_code, r.text)
        for r in first.values()
    ]
    events: list[OutboxEvent] = []
    decisions: list[Decision] = []
    claims: list[Claim] = []
    accepted: dict[Identity, RegistrationSubmittedV1] = {}
    async with uow.transaction() as store:
        new = await store.insert_submissions(rows, now)
        stored = await store.submission_hashes([i for i in first if i not in new])
        batch = idempotency.sort_batch(readable, _identity, _digest, first, new, stored)
        summary.repeated = len(batch.repeated)
        letters += [dead_letter(r.record, REUSED, now) for r in batch.reused]
        for read in batch.fresh:
            identity = read.identity
            nik = read.nik or ""
            agency = policy.agency(identity[0])
            try:
                submission = RegistrationSubmittedV1.model_validate_json(read.record.value)
            except ValidationError as error:
                reasons = schema_reasons(error)
                if agency is None:
                    reasons.append(unknown_agency(identity[0]))
            else:
                reasons = (
                    []
                    if agency is not None
                    else [
                        unknown_agency(identity[0]),
                        *personal_reasons(submission.worker, submission.submitted_at, policy),
                    ]
                )
                if not reasons:
                    claims.append(Claim(submission.worker.nik, *identity))
                    accepted[identity] = submission
                    continue
            decisions.append(
                Decision(*identity, SubmissionStatus.REJECTED, [r.model_dump() for r in reasons])
            )
            events.append(_rejected(identity, nik, reasons, now))
        won, holders = await _claim(store, claims, now)
        for claim in claims:
            identity = (claim.agency_code, claim.submission_id)
            if identity in won:
                eid = event_id("accepted", *identity)
                event = RegistrationAcceptedV1(
                    event_id=eid, received_at=now, submission=accepted[identity]
                )
                events.append(OutboxEvent.of(topics.ACCEPTED, claim.nik, event, eid))
                summary.count(Outcome.ACCEPTED)
                continue
            holder = holders[claim.nik]
            decisions.append(
                Decision(
                    *identity,
                    SubmissionStatus.DUPLICATE,
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
        await store.record_decisions(decisions, now)
        await store.add_dead_letters([d for d, _ in letters], now)
        await store.add_events([*events, *(e for _, e in letters)])
    summary.new = len(new)
    return summary
