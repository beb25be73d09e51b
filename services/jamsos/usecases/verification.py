"""Verification and enrolment: every eligibility rule, then enrol, hold or reject; one batch per
transaction.

Agency quotas and the regency ceiling are counted exactly with several verification instances
deciding at once, without a lock around the whole decision: the places used are capacity rows
(adapters/capacity.py). A batch reads them unlocked and, when everyone fits, takes its places
with a conditional update as its last statement (`used + n <= quota`), so the rows are held
only from there to the commit. When that update finds a limit passed by a concurrent batch,
or when the batch would reject anyone with QUOTA_EXCEEDED, the transaction is rolled back and
decided again with the rows locked first: the last places then go to the batch's submissions
in batch (offset) order, and every decision about the limits is made on counts nobody else
can change before the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from pydantic import ValidationError

from jamsos.domain.coverage import coverage_start
from jamsos.domain.dedup import Lookalike, Lookalikes, Participant, group_of
from jamsos.domain.eligibility import (
    Capacity,
    deceased_reason,
    personal_reasons,
    unknown_agency,
)
from jamsos.domain.identity import after_event, event_id, membership_no
from jamsos.domain.policy import Agency, Policy
from jamsos.domain.tariff import tariff_on
from jamsos.domain.wilayah import find_village
from jamsos.usecases.deadletters import dead_letter
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, DeadLetterError
from jamsos.usecases.ports import EnrolmentStore, UnitOfWork, VerificationStore
from jamsos.usecases.rows import (
    DeadLetter,
    Decision,
    Enrolment,
    Identity,
    OutboxEvent,
    SubmissionStatus,
)
from jamsos_schemas import topics
from jamsos_schemas.participant import MonthlyPremium, ParticipantEnrolledV1, Program
from jamsos_schemas.registration import (
    Reason,
    RegistrationAcceptedV1,
    RegistrationRejectedV1,
    RegistrationReviewRequiredV1,
    RegistrationSubmittedV1,
    ReviewCandidate,
)


def identity_of(submission: RegistrationSubmittedV1) -> Identity:
    """The contract identity of a submission."""
    return (submission.agency_code, submission.submission_id)


@dataclass
class Outcomes:
    """What a transaction decides, written together at the end."""

    decisions: list[Decision] = field(default_factory=list)
    events: list[OutboxEvent] = field(default_factory=list)
    enrolments: list[Enrolment] = field(default_factory=list)
    released: list[Identity] = field(default_factory=list)
    letters: list[tuple[DeadLetter, OutboxEvent]] = field(default_factory=list)

    def reject(
        self, submission: RegistrationSubmittedV1, reasons: list[Reason], now: dt.datetime
    ) -> None:
        """A terminal rejection; the NIK is free again."""
        identity = identity_of(submission)
        self.decisions.append(
            Decision(*identity, SubmissionStatus.REJECTED, [r.model_dump() for r in reasons])
        )
        self.released.append(identity)
        eid = event_id("rejected", *identity)
        event = RegistrationRejectedV1(
            event_id=eid,
            submission_id=submission.submission_id,
            agency_code=submission.agency_code,
            nik=submission.worker.nik,
            decided_at=now,
            reasons=reasons,
        )
        self.events.append(OutboxEvent.of(topics.REJECTED, submission.worker.nik, event, eid))

    async def finish(
        self,
        store: EnrolmentStore,
        enroller: Enroller,
        eligible: Sequence[tuple[RegistrationSubmittedV1, Agency]],
        summary: BatchSummary,
        now: dt.datetime,
    ) -> None:
        """Enrol the eligible, count every outcome into `summary`, and write it all."""
        await enroller.enrol(eligible, self)
        await self.settle(store, summary, now)

    async def settle(self, store: EnrolmentStore, summary: BatchSummary, now: dt.datetime) -> None:
        """Count every outcome decided so far into `summary`, and write it all."""
        summary.decided(self.decisions)
        summary.dead_lettered(d.error for d, _ in self.letters)
        await self.write(store, now)

    async def write(self, store: EnrolmentStore, now: dt.datetime) -> None:
        """Participants, decisions, released claims, dead letters and events, in this order."""
        await store.upsert_participants(self.enrolments)
        await store.record_decisions(self.decisions, now)
        await store.release_claims(self.released)
        await store.add_dead_letters([d for d, _ in self.letters], now)
        await store.add_events([*self.events, *(e for _, e in self.letters)])


@dataclass
class Enroller:
    """Builds enrolments: membership numbers, coverage start and the premium in force."""

    store: EnrolmentStore
    policy: Policy
    now: dt.datetime
    numbers: dict[str, str]
    terminated_at: dict[str, dt.datetime]

    @classmethod
    async def load(
        cls, store: EnrolmentStore, niks: Sequence[str], policy: Policy, now: dt.datetime
    ) -> Enroller:
        """With the membership numbers (and last termination) of these NIKs' participants."""
        known = await store.known_participants(niks)
        return cls(
            store,
            policy,
            now,
            {nik: number for nik, (number, _) in known.items()},
            {nik: at for nik, (_, at) in known.items() if at is not None},
        )

    async def enrol(
        self, items: Sequence[tuple[RegistrationSubmittedV1, Agency]], outcomes: Outcomes
    ) -> None:
        """Enrol each submission: participant row, ENROLLED decision and enrolled event."""
        if not items:
            return
        fresh = [s.worker.nik for s, _ in items if s.worker.nik not in self.numbers]
        for nik, serial in zip(fresh, await self.store.next_serials(len(fresh)), strict=True):
            self.numbers[nik] = membership_no(serial)
        tariffs = await self.store.tariffs()
        for s, agency in items:
            w, number = s.worker, self.numbers[s.worker.nik]
            # a re-enrolment is stamped after the participant's last termination (see after_event)
            at = after_event(self.terminated_at.get(w.nik), self.now)
            start = coverage_start(at, self.policy.coverage_start_rule)
            tariff = tariff_on(tariffs, start)
            premium = MonthlyPremium(JKK=tariff.jkk, JKM=tariff.jkm, total=tariff.total)
            village = find_village(w.address.village_code)
            assert village is not None  # OUT_OF_REGION was checked
            outcomes.enrolments.append(
                Enrolment(
                    nik=w.nik,
                    membership_no=number,
                    full_name=w.full_name,
                    birth_date=w.birth_date,
                    sex=w.sex,
                    village_code=village.code,
                    kecamatan_code=village.kecamatan_code,
                    agency_code=agency.code,
                    submission_id=s.submission_id,
                    payer_code=agency.payer_code,
                    funding_source=agency.funding_source,
                    enrolled_at=at,
                    coverage_start=start,
                    worker_json=w.model_dump_json(),
                )
            )
            outcomes.decisions.append(
                Decision(*identity_of(s), SubmissionStatus.ENROLLED, membership_no=number)
            )
            eid = event_id("enrolled", *identity_of(s))
            enrolled = ParticipantEnrolledV1(
                event_id=eid,
                submission_id=s.submission_id,
                agency_code=s.agency_code,
                nik=w.nik,
                decided_at=self.now,
                membership_no=number,
                enrolled_at=at,
                coverage_start=start,
                programs=[Program.JKK, Program.JKM],
                monthly_premium=premium,
                payer_code=agency.payer_code,
                funding_source=agency.funding_source,
                worker=w,
            )
            outcomes.events.append(OutboxEvent.of(topics.ENROLLED, w.nik, enrolled, eid))


class Contended(Exception):
    """The places a batch read have changed or run out: decide it again with them locked."""


async def capacity(
    store: EnrolmentStore, policy: Policy, agencies: Sequence[str], exact: bool
) -> Capacity:
    """Places used per agency and in the regency, for quota and ceiling checks; `exact`
    locks them until the commit."""
    by_agency, total = await store.capacity(agencies, lock=exact)
    return Capacity(by_agency, total, policy)


def quota_check(room: Capacity, agency: Agency, exact: bool) -> list[Reason]:
    """QUOTA_EXCEEDED if `agency` or the regency is full; on unlocked counts, `Contended`
    instead (a full limit is only ever decided on locked ones)."""
    reasons = room.reasons(agency)
    if reasons and not exact:
        raise Contended
    return reasons


async def take_places(store: EnrolmentStore, room: Capacity, policy: Policy) -> None:
    """Write the places `room` took; `Contended` if a limit would be passed."""
    quotas = {a.code: a.quota for a in policy.agencies}
    if not await store.use_capacity(room.taken, quotas, policy.ceiling):
        raise Contended


async def decided_exactly(attempt: Callable[[bool], Awaitable[BatchSummary]]) -> BatchSummary:
    """`attempt(False)`; decided again as `attempt(True)` when its places were contended."""
    try:
        return await attempt(False)
    except Contended:
        return await attempt(True)


def _enrolling(s: RegistrationSubmittedV1, agency: Agency) -> Participant:
    """A worker this batch enrols, as a look-alike candidate for the rest of the batch (its
    membership number is not drawn yet: `_numbered` fills it in)."""
    w = s.worker
    return Participant("", w.nik, w.full_name, w.birth_date, w.sex, w.address.village_code,
                       agency.code)  # fmt: skip


def _numbered(found: list[Lookalike], numbers: dict[str, str]) -> list[Lookalike]:
    """`found` with the membership numbers of the candidates enrolled in this batch, best
    match first as `Lookalikes.find` orders them."""
    filled = [
        m
        if m.participant.membership_no
        else replace(
            m, participant=replace(m.participant, membership_no=numbers[m.participant.nik])
        )
        for m in found
    ]
    return sorted(filled, key=lambda m: (-m.score, m.participant.membership_no))


def _review_event(
    s: RegistrationSubmittedV1, found: list[Lookalike], now: dt.datetime
) -> tuple[list[dict[str, object]], OutboxEvent]:
    candidates = [
        ReviewCandidate(
            membership_no=m.participant.membership_no,
            nik=m.participant.nik,
            full_name=m.participant.full_name,
            birth_date=m.participant.birth_date,
            score=m.score,
        )
        for m in found
    ]
    eid = event_id("review-required", *identity_of(s))
    event = RegistrationReviewRequiredV1(
        event_id=eid,
        submission_id=s.submission_id,
        agency_code=s.agency_code,
        nik=s.worker.nik,
        decided_at=now,
        candidates=candidates,
    )
    stored = [  # kept with the agency, which a DUPLICATE decision names
        {**c.model_dump(mode="json"), "agency_code": m.participant.agency_code}
        for c, m in zip(candidates, found, strict=True)
    ]
    return (stored, OutboxEvent.of(topics.REVIEW_REQUIRED, s.worker.nik, event, eid))


async def verify(
    uow: UnitOfWork[VerificationStore],
    records: Sequence[Message],
    policy: Policy,
    now: dt.datetime,
) -> BatchSummary:
    """Decide a batch of accepted submissions: enrol the eligible, hold look-alikes for
    review, reject with every reason."""
    letters: list[tuple[DeadLetter, OutboxEvent]] = []
    batch: dict[Identity, RegistrationSubmittedV1] = {}
    for record in records:
        try:
            accepted = RegistrationAcceptedV1.model_validate_json(record.value)
        except ValidationError as error:
            letters.append(dead_letter(record, DeadLetterError.UNREADABLE.of(error), now))
            continue
        batch.setdefault(identity_of(accepted.submission), accepted.submission)

    async def attempt(exact: bool) -> BatchSummary:
        summary = BatchSummary(received=len(records))
        async with uow.transaction() as store:
            await _decide(
                store, batch, Outcomes(letters=list(letters)), policy, now, exact, summary
            )
        return summary

    return await decided_exactly(attempt)


async def _decide(
    store: VerificationStore,
    batch: dict[Identity, RegistrationSubmittedV1],
    outcomes: Outcomes,
    policy: Policy,
    now: dt.datetime,
    exact: bool,
    summary: BatchSummary,
) -> None:
    niks = [s.worker.nik for s in batch.values()]
    todo = await store.pending(list(batch))
    summary.repeated = len(batch) - len(todo)
    dead = await store.deceased(niks)
    enroller = await Enroller.load(store, niks, policy, now)
    screened: list[tuple[RegistrationSubmittedV1, Agency | None, list[Reason]]] = []
    for identity, s in batch.items():
        if identity not in todo:
            continue
        agency = policy.agency(s.agency_code)
        reasons = [
            # the agency may have been removed from the registry while this was in flight
            *([] if agency is not None else [unknown_agency(s.agency_code)]),
            *personal_reasons(s.worker, s.submitted_at, policy),
        ]
        screened.append((s, agency, reasons))
    # the groups this batch compares, held until the commit before they are read (0022): two
    # instances deciding a look-alike pair at once decide it one after the other
    groups = list({group_of(s.worker) for s, _, reasons in screened if not reasons})
    await store.lock_groups(groups)
    known = Lookalikes(await store.active_in_groups(groups))
    agencies = [a.code for _, a, _ in screened if a is not None]
    room = await capacity(store, policy, agencies, exact)
    held: list[tuple[Identity, list[dict[str, object]]]] = []
    eligible: list[tuple[RegistrationSubmittedV1, Agency]] = []
    reviews: list[tuple[RegistrationSubmittedV1, list[Lookalike]]] = []
    for s, agency, personal in screened:
        reasons = [
            *personal,
            *(quota_check(room, agency, exact) if agency is not None else []),
            *([deceased_reason()] if s.worker.nik in dead else []),
        ]
        if reasons or agency is None:
            outcomes.reject(s, reasons, now)
            continue
        found = known.find(s.worker)
        if found:
            reviews.append((s, found))
            continue
        room.take(agency)
        eligible.append((s, agency))
        # A later worker of this batch is compared with this one too, as it would be in a
        # later batch: the same person twice under two NIKs (a mistyped digit in one upload)
        # is held once, however the records fall into batches. Its membership number comes
        # with its enrolment, below.
        known.add(_enrolling(s, agency))
    await enroller.enrol(eligible, outcomes)
    for s, found in reviews:
        candidates, event = _review_event(s, _numbered(found, enroller.numbers), now)
        held.append((identity_of(s), candidates))
        outcomes.decisions.append(Decision(*identity_of(s), SubmissionStatus.REVIEW))
        outcomes.events.append(event)
    await outcomes.settle(store, summary, now)
    await store.record_candidates(held)
    await take_places(store, room, policy)  # last: the rows are held only until the commit
    summary.new = len(screened)
