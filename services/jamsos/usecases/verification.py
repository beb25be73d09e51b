"""Verification and enrolment: every eligibility rule, then enrol or reject, one batch per tx.

Decisions are serialised by an advisory lock so that agency quotas and the regency ceiling are
counted exactly even with several verification consumers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from jamsos_schemas import topics
from jamsos_schemas.participant import MonthlyPremium, ParticipantEnrolledV1, Program
from jamsos_schemas.registration import (
    Reason,
    ReasonCode,
    RegistrationAcceptedV1,
    RegistrationRejectedV1,
)
from pydantic import ValidationError

from jamsos.adapters import outbox, repository
from jamsos.adapters.kafka import Inbound
from jamsos.adapters.outbox import OutboxEvent
from jamsos.adapters.repository import Decision, Enrolment, Identity
from jamsos.domain.coverage import coverage_start
from jamsos.domain.eligibility import Capacity, deceased_reason, personal_reasons
from jamsos.domain.identity import event_id, membership_no
from jamsos.domain.policy import Policy
from jamsos.domain.tariff import tariff_on
from jamsos.domain.wilayah import find_village
from jamsos.usecases.deadletters import dead_letter
from jamsos.usecases.registration import BatchSummary


@dataclass(frozen=True)
class _Verdict:
    accepted: RegistrationAcceptedV1
    reasons: list[Reason]

    @property
    def identity(self) -> Identity:
        s = self.accepted.submission
        return (s.agency_code, s.submission_id)


async def verify(
    pool: asyncpg.Pool, records: Sequence[Inbound], policy: Policy, now: dt.datetime
) -> BatchSummary:
    """Decide a batch of accepted submissions: enrol the eligible, reject with every reason."""
    summary = BatchSummary(received=len(records))
    letters = []
    batch: dict[Identity, RegistrationAcceptedV1] = {}
    for record in records:
        try:
            accepted = RegistrationAcceptedV1.model_validate_json(record.value)
        except ValidationError as error:
            letters.append(dead_letter(record, f"UNREADABLE: {error}", now))
            continue
        s = accepted.submission
        batch.setdefault((s.agency_code, s.submission_id), accepted)
    niks = [a.submission.worker.nik for a in batch.values()]
    async with pool.acquire() as conn, conn.transaction():
        await repository.lock_enrolment(conn)
        todo = await repository.pending(conn, list(batch))
        summary.repeated = len(batch) - len(todo)
        dead = await repository.deceased(conn, niks)
        numbers = await repository.membership_numbers(conn, niks)
        by_agency = await repository.active_counts(conn)
        tariffs = await repository.tariffs(conn)
        capacity = Capacity(by_agency, sum(by_agency.values()), policy)
        verdicts: list[_Verdict] = []
        for identity, accepted in batch.items():
            if identity not in todo:
                continue
            s = accepted.submission
            reasons = personal_reasons(s.worker, s.submitted_at, policy)
            agency = policy.agency(s.agency_code)
            if agency is None:  # removed from the registry while in flight
                reasons.insert(0, Reason(code=ReasonCode.UNKNOWN_AGENCY,
                                         detail=f"agency {s.agency_code!r} is not registered"))
            else:
                reasons += capacity.reasons(agency)
                if not reasons and s.worker.nik not in dead:
                    capacity.take(agency)
            if s.worker.nik in dead:
                reasons.append(deceased_reason(s.worker.nik))
            verdicts.append(_Verdict(accepted, reasons))

        eligible = [v for v in verdicts if not v.reasons]
        fresh = [v for v in eligible if v.accepted.submission.worker.nik not in numbers]
        for verdict, serial in zip(fresh, await repository.next_serials(conn, len(fresh)),
                                   strict=True):
            numbers[verdict.accepted.submission.worker.nik] = membership_no(serial)

        start = coverage_start(now, policy.coverage_start_rule)
        tariff = tariff_on(tariffs, start)
        premium = MonthlyPremium(JKK=tariff.jkk, JKM=tariff.jkm, total=tariff.total)
        enrolments: list[Enrolment] = []
        decisions: list[Decision] = []
        events: list[OutboxEvent] = []
        for verdict in verdicts:
            s = verdict.accepted.submission
            nik = s.worker.nik
            if verdict.reasons:
                decisions.append(Decision(*verdict.identity, "REJECTED",
                                          [r.model_dump() for r in verdict.reasons]))
                eid = event_id("rejected", *verdict.identity)
                rejected = RegistrationRejectedV1(
                    event_id=eid, submission_id=s.submission_id, agency_code=s.agency_code,
                    nik=nik, decided_at=now, reasons=verdict.reasons,
                )
                events.append(OutboxEvent.of(topics.REJECTED, nik, rejected, eid))
                continue
            agency = policy.agency(s.agency_code)
            village = find_village(s.worker.address.village_code)
            assert agency is not None and village is not None  # checked above
            number = numbers[nik]
            enrolments.append(Enrolment(
                nik=nik, membership_no=number, full_name=s.worker.full_name,
                birth_date=s.worker.birth_date, sex=s.worker.sex,
                village_code=village.code, kecamatan_code=village.kecamatan_code,
                agency_code=agency.code, submission_id=s.submission_id,
                payer_code=agency.payer_code, funding_source=agency.funding_source,
                enrolled_at=now, coverage_start=start, worker_json=s.worker.model_dump_json(),
            ))
            decisions.append(Decision(*verdict.identity, "ENROLLED", membership_no=number))
            eid = event_id("enrolled", *verdict.identity)
            enrolled = ParticipantEnrolledV1(
                event_id=eid, submission_id=s.submission_id, agency_code=s.agency_code, nik=nik,
                decided_at=now, membership_no=number, enrolled_at=now, coverage_start=start,
                programs=[Program.JKK, Program.JKM], monthly_premium=premium,
                payer_code=agency.payer_code, funding_source=agency.funding_source,
                worker=s.worker,
            )
            events.append(OutboxEvent.of(topics.ENROLLED, nik, enrolled, eid))
        for decision in decisions:
            summary.count(decision.status)
        await repository.upsert_participants(conn, enrolments)
        await repository.record_decisions(conn, decisions, now)
        await repository.release_claims(
            conn, [v.identity for v in verdicts if v.reasons]
        )
        await repository.add_dead_letters(conn, [d for d, _ in letters], now)
        await outbox.add(conn, [*events, *(e for _, e in letters)])
    summary.new = len(verdicts)
    summary.counts["DLQ"] = len(letters)
    return summary
