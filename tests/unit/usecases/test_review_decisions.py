"""Review decisions on the fake store: ENROL or DUPLICATE a held submission, exactly once."""

from __future__ import annotations

import datetime as dt

from jamsos.usecases.review import decide_reviews
from jamsos.usecases.rows import AuditAction
from jamsos_schemas import topics
from jamsos_schemas.registration import RegistrationReviewDecidedV1
from tests.factory import submission
from tests.fakes import FakeUnitOfWork
from tests.unit.usecases.support import NOW, POLICY, enrol, message, status

TYPO = submission(agency_code="DISHUB", submission_id="DISHUB-9",
                  worker__nik="3319014506900007", worker__full_name="SITI AMINAH")  # fmt: skip


def decision(kind: str, by: str = "ops", submission_id: str = "DISHUB-9") -> bytes:
    command = RegistrationReviewDecidedV1(
        agency_code="DISHUB", submission_id=submission_id, decision=kind, decided_by=by,
        decided_at=dt.datetime(2025, 1, 21, 9, 0, tzinfo=NOW.tzinfo),
    )  # fmt: skip
    return command.model_dump_json().encode()


async def held() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    await enrol(uow, [TYPO])
    assert status(uow, "DISHUB", "DISHUB-9") == "REVIEW"
    return uow


async def test_review_duplicate_names_the_matched_participant_and_frees_the_nik() -> None:
    uow = await held()
    await decide_reviews(uow, [message(decision("DUPLICATE"), topics.REVIEW_DECIDED)], POLICY, NOW)
    [duplicate] = uow.state.events(topics.DUPLICATE)
    assert duplicate["existing_membership_no"] == "KDS-000000001"
    assert duplicate["existing_agency_code"] == "DISDAG"
    assert "3319014506900007" not in uow.state.claims
    assert uow.state.submissions[("DISHUB", "DISHUB-9")]["reviewed_by"] == "ops"


async def test_review_enrol_enrols_the_held_worker() -> None:
    uow = await held()
    await decide_reviews(uow, [message(decision("ENROL"), topics.REVIEW_DECIDED)], POLICY, NOW)
    assert [e["nik"] for e in uow.state.events(topics.ENROLLED)][-1] == "3319014506900007"
    assert status(uow, "DISHUB", "DISHUB-9") == "ENROLLED"


async def test_review_enrolments_of_one_batch_are_made_in_batch_order() -> None:
    # the store returns held submissions in key order; places and membership numbers go in
    # the order the decisions came (as verification gives them)
    uow = await held()
    budi = submission(agency_code="DISDAG", submission_id="DISDAG-2", worker__sex="M",
                      worker__nik="3319010506900002", worker__full_name="BUDI SANTOSO")  # fmt: skip
    typo = submission(agency_code="DISHUB", submission_id="DISHUB-10", worker__sex="M",
                      worker__nik="3319010506900003", worker__full_name="BUDI SANTOSA")  # fmt: skip
    await enrol(uow, [budi])
    await enrol(uow, [typo])
    assert status(uow, "DISHUB", "DISHUB-10") == "REVIEW"
    later_key_first = [
        message(decision("ENROL", submission_id=i), topics.REVIEW_DECIDED)
        for i in ("DISHUB-9", "DISHUB-10")  # "DISHUB-10" < "DISHUB-9"
    ]
    await decide_reviews(uow, later_key_first, POLICY, NOW)
    enrolled = uow.state.events(topics.ENROLLED)[-2:]
    assert [e["submission_id"] for e in enrolled] == ["DISHUB-9", "DISHUB-10"]
    assert enrolled[0]["membership_no"] < enrolled[1]["membership_no"]


async def test_review_repeated_decision_changes_nothing() -> None:
    uow = await held()
    command = message(decision("ENROL"), topics.REVIEW_DECIDED)
    await decide_reviews(uow, [command], POLICY, NOW)
    again = await decide_reviews(uow, [command], POLICY, NOW)
    assert again.repeated == 1
    assert len(uow.state.events(topics.ENROLLED)) == 2  # Siti, then the reviewed worker


async def test_review_other_decision_for_a_decided_submission_is_a_conflict() -> None:
    uow = await held()
    await decide_reviews(uow, [message(decision("ENROL"), topics.REVIEW_DECIDED)], POLICY, NOW)
    await decide_reviews(uow, [message(decision("DUPLICATE"), topics.REVIEW_DECIDED)], POLICY, NOW)
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("REVIEW_DECISION_CONFLICT: ")


async def test_review_decision_before_the_hold_is_a_dead_letter_not_claimed() -> None:
    uow = FakeUnitOfWork()
    await decide_reviews(uow, [message(decision("ENROL"), topics.REVIEW_DECIDED)], POLICY, NOW)
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("NOT_HELD: ")
    assert uow.state.inbox == {}  # so a replay after the hold still applies


async def test_review_decision_is_audited_once_under_its_reviewer() -> None:
    uow = await held()
    command = message(decision("DUPLICATE", by="siti.ops"), topics.REVIEW_DECIDED)
    await decide_reviews(uow, [command], POLICY, NOW)
    await decide_reviews(uow, [command], POLICY, NOW)  # redelivered: no second entry
    [(at, entry)] = uow.state.audit
    assert at == NOW
    assert (entry.actor, entry.action, entry.subject) == (
        "siti.ops",
        AuditAction.REVIEW_DUPLICATE,
        "DISHUB/DISHUB-9",
    )


async def test_review_enrol_holds_the_workers_group_as_verification_does() -> None:
    """A concurrent verification batch comparing a look-alike of the worker an ENROL makes
    waits for it (migration 0022); a DUPLICATE makes no participant and holds nothing."""
    uow = await held()
    uow.state.calls.clear()
    await decide_reviews(uow, [message(decision("DUPLICATE"), topics.REVIEW_DECIDED)], POLICY, NOW)
    assert uow.state.calls == [("lock_groups", [])]
    uow = await held()
    uow.state.calls.clear()
    await decide_reviews(uow, [message(decision("ENROL"), topics.REVIEW_DECIDED)], POLICY, NOW)
    [(call, groups)] = uow.state.calls
    birth_date = TYPO["worker"]["birth_date"]
    assert call == "lock_groups" and [str(g[0]) for g in groups] == [birth_date]
