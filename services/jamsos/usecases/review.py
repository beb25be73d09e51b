"""Review decisions: an operator resolves a held submission (`registration.review-decided`).

ENROL enrols the worker if the agency's quota and the regency ceiling still have room; when
they do not, the submission is rejected with QUOTA_EXCEEDED. The contract names only enrolled
or duplicate as results of a review, but enrolling past the budgeted ceiling is not sound (see
README, "Decisions"). DUPLICATE names the best-matching participant. A decision for a
submission that is not held, or a second, different decision, goes to the DLQ.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from jamsos.domain.dedup import group_of
from jamsos.domain.eligibility import deceased_reason, unknown_agency
from jamsos.domain.identity import event_id
from jamsos.domain.policy import Agency, Policy
from jamsos.usecases import idempotency
from jamsos.usecases.deadletters import dead_letter
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, DeadLetterError
from jamsos.usecases.ports import ReviewStore, UnitOfWork
from jamsos.usecases.reading import content_hash, schema_error
from jamsos.usecases.rows import (
    AuditAction,
    AuditEntry,
    DeadLetter,
    Decision,
    Identity,
    OutboxEvent,
    SubmissionStatus,
)
from jamsos.usecases.verification import (
    Enroller,
    Outcomes,
    capacity,
    decided_exactly,
    quota_check,
    take_places,
)
from jamsos_schemas import topics
from jamsos_schemas.registration import (
    RegistrationDuplicateV1,
    RegistrationReviewDecidedV1,
    RegistrationSubmittedV1,
)

CONSUMER = "review"


async def decide_reviews(
    uow: UnitOfWork[ReviewStore], records: Sequence[Message], policy: Policy, now: dt.datetime
) -> BatchSummary:
    """Apply a batch of review decisions in one transaction."""
    letters: list[tuple[DeadLetter, OutboxEvent]] = []
    commands: list[_Command] = []
    for record in records:
        try:
            command = RegistrationReviewDecidedV1.model_validate_json(record.value)
        except ValidationError as error:
            letters.append(dead_letter(record, schema_error(error), now))
            continue
        digest = content_hash(command.model_dump(mode="json"))
        commands.append(_Command(record, command, digest))

    async def attempt(exact: bool) -> BatchSummary:
        summary = BatchSummary(received=len(records))
        async with uow.transaction() as store:
            await _decide(
                store, commands, Outcomes(letters=list(letters)), policy, now, exact, summary
            )
        return summary

    return await decided_exactly(attempt)


async def _decide(
    store: ReviewStore,
    commands: list[_Command],
    outcomes: Outcomes,
    policy: Policy,
    now: dt.datetime,
    exact: bool,
    summary: BatchSummary,
) -> None:
    first = idempotency.firsts(commands, _message_id)
    held = await store.held([_identity(c) for c in first.values()])
    # Only a decision that applies claims its identity: one that came too early (not held
    # yet) goes to the DLQ and can be replayed once the submission is held.
    new = await store.claim_messages(
        CONSUMER, {m: c.digest for m, c in first.items() if _identity(c) in held}, now
    )
    stored = await store.message_hashes(CONSUMER, [m for m in first if m not in new])
    decided = [c for c in commands if _message_id(c) in new or _message_id(c) in stored]
    outcomes.letters += [dead_letter(c.record, NOT_HELD, now) for c in commands if c not in decided]
    batch = idempotency.sort_batch(decided, _message_id, _digest, first, new, stored)
    summary.repeated = len(batch.repeated)
    outcomes.letters += [dead_letter(c.record, CONFLICT, now) for c in batch.reused]
    fresh = {_identity(c): c for c in batch.fresh}
    held = {i: held[i] for i in fresh if i in held}  # in batch order (places, serials)
    held_submissions = {
        i: RegistrationSubmittedV1.model_validate_json(h.payload_json) for i, h in held.items()
    }
    niks = [s.worker.nik for s in held_submissions.values()]
    dead = await store.deceased(niks)
    enroller = await Enroller.load(store, niks, policy, now)
    agencies = [s.agency_code for s in held_submissions.values()]
    # an ENROL makes a participant that a concurrent verification batch may be comparing a
    # look-alike with: its groups are held first, as verification holds them (0022)
    enrolling = [i for i in held_submissions if fresh[i].command.decision == "ENROL"]
    await store.lock_groups([group_of(held_submissions[i].worker) for i in enrolling])
    room = await capacity(store, policy, agencies, exact)
    eligible: list[tuple[RegistrationSubmittedV1, Agency]] = []
    reviewers: list[tuple[Identity, str]] = []
    audit: list[AuditEntry] = []
    for identity, s in held_submissions.items():
        command = fresh[identity].command
        reviewers.append((identity, command.decided_by))
        audit.append(_audit_entry(command))
        if command.decision == "DUPLICATE":
            _duplicate(s, held[identity].candidates, outcomes, now)
            continue
        agency = policy.agency(s.agency_code)
        reasons = [
            *(
                [unknown_agency(s.agency_code)]
                if agency is None
                else quota_check(room, agency, exact)
            ),
            *([deceased_reason()] if s.worker.nik in dead else []),
        ]
        if reasons or agency is None:
            outcomes.reject(s, reasons, now)
            continue
        room.take(agency)
        eligible.append((s, agency))
    await outcomes.finish(store, enroller, eligible, summary, now)
    await store.set_reviewer(reviewers)
    await store.add_audit(audit, now)
    await take_places(store, room, policy)  # last: the rows are held only until the commit
    summary.new = len(held_submissions)


CONFLICT = DeadLetterError.REVIEW_DECISION_CONFLICT.of("this submission was already decided")
NOT_HELD = DeadLetterError.NOT_HELD.of("the submission is not waiting for review")


@dataclass(frozen=True)
class _Command:
    record: Message
    command: RegistrationReviewDecidedV1
    digest: str


def _audit_entry(command: RegistrationReviewDecidedV1) -> AuditEntry:
    """The reviewer's decision as they made it (the outcome may still be a quota rejection)."""
    return AuditEntry(
        actor=command.decided_by,
        action=AuditAction.REVIEW_ENROL
        if command.decision == "ENROL"
        else AuditAction.REVIEW_DUPLICATE,
        subject=f"{command.agency_code}/{command.submission_id}",
        detail={"decided_at": command.decided_at.isoformat()},
    )


def _message_id(c: _Command) -> str:
    return f"{c.command.agency_code}\x1f{c.command.submission_id}"


def _digest(c: _Command) -> str:
    return c.digest


def _identity(c: _Command) -> Identity:
    return (c.command.agency_code, c.command.submission_id)


def _duplicate(
    s: RegistrationSubmittedV1,
    candidates: list[dict[str, object]],
    outcomes: Outcomes,
    now: dt.datetime,
) -> None:
    best = candidates[0] if candidates else {}
    identity = (s.agency_code, s.submission_id)
    existing = str(best["membership_no"]) if best else None
    existing_agency = str(best.get("agency_code", ""))
    outcomes.decisions.append(
        Decision(*identity, SubmissionStatus.DUPLICATE, existing_agency_code=existing_agency)
    )
    outcomes.released.append(identity)
    eid = event_id("duplicate", *identity)
    event = RegistrationDuplicateV1(
        event_id=eid,
        submission_id=s.submission_id,
        agency_code=s.agency_code,
        nik=s.worker.nik,
        decided_at=now,
        existing_membership_no=existing,
        existing_agency_code=existing_agency,
    )
    outcomes.events.append(OutboxEvent.of(topics.DUPLICATE, s.worker.nik, event, eid))
