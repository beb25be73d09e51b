"""Terminations (enrolment side): end a participant's coverage and publish `terminated`.

Source: CONTRACT.md, "Coverage and premium accrual": coverage ends on the last day of the month
of `effective_date`; an unknown NIK gets `terminated` with status NOT_FOUND and no change; a
NIK terminated as DECEASED can never be enrolled again (verification's DECEASED check reads
`participants.termination_reason`); others may re-enrol later and keep their membership number.

Decisions:
- Any *registered* agency may terminate any participant, not only the one that enrolled them:
  deaths and moves are facts that any OPD (Dinas Sosial above all) may learn of first, and a
  participant wrongly kept active costs the regency a premium every month. Each request is
  logged in `termination_requests` with the requesting and the participant's agency, so a
  termination by a foreign agency can be reviewed. A request from an agency that is not
  registered ends nothing and goes to the DLQ (`UNKNOWN_AGENCY`).
- A request about an already terminated participant changes nothing, except that DECEASED
  replaces an earlier reason (so the NIK can never re-enrol); `terminated` then reports the
  coverage end already recorded.
- The NIK claim of the participant's enrolment is deleted, so the NIK may be submitted again
  and the agency's quota counts one fewer active participant.
- An effective date in a later month is accepted: the status is TERMINATED at once (quota
  freed now), while billing, which reads coverage dates and not the status, keeps charging
  until the coverage end. A re-enrolment in between cannot double-charge a month (one charge
  per membership and period).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from jamsos.domain.coverage import coverage_end
from jamsos.domain.eligibility import unknown_agency
from jamsos.domain.identity import after_event, event_id
from jamsos.domain.policy import Policy
from jamsos.usecases import idempotency
from jamsos.usecases.authentication import unauthenticated
from jamsos.usecases.deadletters import dead_letter
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, DeadLetterError, Outcome
from jamsos.usecases.ports import TerminationStore, UnitOfWork
from jamsos.usecases.reading import content_hash, read_object, schema_error
from jamsos.usecases.rows import DeadLetter, LoggedRequest, OutboxEvent, ParticipantState
from jamsos_schemas import topics
from jamsos_schemas.participant import (
    ParticipantTerminatedV1,
    ParticipantTerminationRequestedV1,
    TerminationReason,
)

CONSUMER = "termination"


@dataclass(frozen=True)
class _Request:
    record: Message
    request: ParticipantTerminationRequestedV1
    content_hash: str


def _read(record: Message) -> _Request | str:
    """The parsed request, or the DLQ error saying why it cannot be read."""
    payload = read_object(record.value)
    if isinstance(payload, str):
        return payload
    try:
        request = ParticipantTerminationRequestedV1.model_validate_json(record.value)
    except ValidationError as error:
        return schema_error(error)
    return _Request(record, request, content_hash(payload))


def _terminated(
    request: ParticipantTerminationRequestedV1, state: ParticipantState | None, now: dt.datetime
) -> OutboxEvent:
    eid = event_id("terminated", request.request_id)
    event = ParticipantTerminatedV1(
        event_id=eid,
        request_id=request.request_id,
        agency_code=request.agency_code,
        nik=request.nik,
        reason=request.reason,
        effective_date=request.effective_date,
        status="NOT_FOUND" if state is None else "TERMINATED",
        membership_no=None if state is None else state.membership_no,
        coverage_start=None if state is None else state.coverage_start,
        coverage_end=None if state is None else state.coverage_end,
        decided_at=now,
    )
    return OutboxEvent.of(topics.TERMINATED, request.nik, event, eid)


def _apply(
    state: ParticipantState, request: ParticipantTerminationRequestedV1, now: dt.datetime
) -> ParticipantState:
    """The participant after this request (see the module docstring)."""
    if state.status == "ACTIVE":
        return dataclasses.replace(
            state,
            status="TERMINATED",
            coverage_end=coverage_end(request.effective_date),
            termination_reason=request.reason.value,
            terminated_at=now,
        )
    if request.reason is TerminationReason.DECEASED:
        return dataclasses.replace(state, termination_reason=TerminationReason.DECEASED.value)
    return state


REUSED = DeadLetterError.REQUEST_ID_REUSED.of("same request_id with different content")


def _request_id(read: _Request) -> str:
    return read.request.request_id


def _digest(read: _Request) -> str:
    return read.content_hash


async def terminate(
    uow: UnitOfWork[TerminationStore],
    records: Sequence[Message],
    policy: Policy,
    now: dt.datetime,
) -> BatchSummary:
    """Process a batch of termination requests in one transaction, in the order received."""
    summary = BatchSummary(received=len(records))
    letters: list[tuple[DeadLetter, OutboxEvent]] = []
    readable: list[_Request] = []
    for record in records:
        read = _read(record)
        if isinstance(read, _Request):
            forged = unauthenticated(record, read.request.agency_code, policy)
            read = read if forged is None else forged
        if isinstance(read, str):
            letters.append(dead_letter(record, read, now))
        elif policy.agency(read.request.agency_code) is None:
            error = DeadLetterError.UNKNOWN_AGENCY.of(
                unknown_agency(read.request.agency_code).detail
            )
            letters.append(dead_letter(record, error, now))
        else:
            readable.append(read)
    first = idempotency.firsts(readable, _request_id)

    events: list[OutboxEvent] = []
    logged: list[LoggedRequest] = []
    async with uow.transaction() as store:
        new = await store.claim_messages(
            CONSUMER, {i: r.content_hash for i, r in first.items()}, now
        )
        stored = await store.message_hashes(CONSUMER, [i for i in first if i not in new])
        batch = idempotency.sort_batch(readable, _request_id, _digest, first, new, stored)
        summary.repeated = len(batch.repeated)
        letters += [dead_letter(r.record, REUSED, now) for r in batch.reused]
        todo = batch.fresh
        before = await store.participant_states([r.request.nik for r in todo])
        after = dict(before)
        for read in todo:
            request = read.request
            state = after.get(request.nik)
            at = now
            if state is not None:
                at = after_event(state.enrolled_at, now)
                state = after[request.nik] = _apply(state, request, at)
            events.append(_terminated(request, state, at))
            logged.append(
                LoggedRequest(
                    request_id=request.request_id,
                    agency_code=request.agency_code,
                    nik=request.nik,
                    reason=request.reason.value,
                    effective_date=request.effective_date,
                    status="NOT_FOUND" if state is None else "TERMINATED",
                    membership_no=None if state is None else state.membership_no,
                    participant_agency_code=None if state is None else state.agency_code,
                    coverage_end=None if state is None else state.coverage_end,
                )
            )
            summary.count(Outcome.NOT_FOUND if state is None else Outcome.TERMINATED)
        ended = [n for n, s in before.items() if s.status == "ACTIVE" and after[n] != s]
        freed = Counter(before[n].agency_code for n in ended)
        await store.release_participant_claims(ended)
        await store.write_states([s for n, s in after.items() if s != before[n]])
        await store.log_requests(logged, now)
        await store.add_dead_letters([d for d, _ in letters], now)
        await store.add_events([*events, *(e for _, e in letters)])
        # last, so that the capacity rows are held only until the commit
        if not await store.use_capacity({a: -n for a, n in freed.items()}, {}, None):
            raise RuntimeError(f"capacity rows missing for {sorted(freed)}")  # a bug of ours
    summary.new = len(todo)
    summary.dead_lettered(d.error for d, _ in letters)
    return summary
