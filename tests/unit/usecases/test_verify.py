"""Verification on the fake store: enrol the eligible, hold look-alikes, reject with reasons."""

from __future__ import annotations

from typing import Any

from jamsos.usecases.registration import register
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.factory import submission
from tests.fakes import FakeStore, FakeUnitOfWork
from tests.unit.usecases.support import (
    NOW,
    POLICY,
    accepted,
    enrol,
    message,
    status,
    with_quota,
)

SITI = "3319014506900001"


async def test_verify_eligible_worker_is_enrolled_with_membership_and_premium() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    [enrolled] = uow.state.events(topics.ENROLLED)
    assert enrolled["membership_no"] == "KDS-000000001"
    assert enrolled["coverage_start"] == "2025-02-01"  # NEXT_MONTH
    assert enrolled["monthly_premium"] == {"JKK": 10000, "JKM": 6800, "total": 16800}
    assert enrolled["payer_code"] == "PEMKAB-KUDUS"
    assert uow.state.participants[SITI]["status"] == "ACTIVE"


async def test_verify_redelivered_accepted_submission_enrols_once() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    again = await verify(uow, accepted(uow), POLICY, NOW)
    assert again.repeated == 1
    assert len(uow.state.events(topics.ENROLLED)) == 1


async def test_verify_worker_outside_kudus_is_rejected_and_frees_the_nik() -> None:
    uow = FakeUnitOfWork()
    outside = submission(worker__address={"village_code": "3374011001", "street": None})
    await enrol(uow, [outside])
    [rejected] = uow.state.events(topics.REJECTED)
    assert [r["code"] for r in rejected["reasons"]] == ["OUT_OF_REGION"]
    assert uow.state.claims == {}
    assert status(uow, "DISDAG", "DISDAG-2025-000123") == "REJECTED"


async def test_verify_full_agency_quota_rejects_with_quota_exceeded() -> None:
    uow = FakeUnitOfWork()
    policy = with_quota("DISDAG", 1)
    second = submission(submission_id="DISDAG-2", worker__nik="3319010101900002",
                        worker__birth_date="1990-01-01", worker__sex="M")  # fmt: skip
    await enrol(uow, [submission()], policy)
    await enrol(uow, [second], policy)
    [rejected] = uow.state.events(topics.REJECTED)
    assert rejected["submission_id"] == "DISDAG-2"
    assert [r["code"] for r in rejected["reasons"]] == ["QUOTA_EXCEEDED"]


async def test_verify_nik_terminated_as_deceased_is_rejected() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    person = uow.state.participants[SITI]
    person.update(status="TERMINATED", termination_reason="DECEASED", terminated_at=NOW)
    uow.state.claims.clear()
    await enrol(uow, [submission(submission_id="DISDAG-AGAIN")])
    [rejected] = uow.state.events(topics.REJECTED)
    assert [r["code"] for r in rejected["reasons"]] == ["DECEASED"]


async def test_verify_lookalike_under_another_nik_is_held_with_candidates() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    typo = submission(agency_code="DISHUB", submission_id="DISHUB-9",
                      worker__nik="3319014506900007", worker__full_name="SITI AMINAH")  # fmt: skip
    await enrol(uow, [typo])
    [held] = uow.state.events(topics.REVIEW_REQUIRED)
    assert held["candidates"][0]["nik"] == SITI
    assert status(uow, "DISHUB", "DISHUB-9") == "REVIEW"
    assert uow.state.submissions[("DISHUB", "DISHUB-9")]["candidates"][0]["agency_code"] == "DISDAG"


async def test_verify_places_taken_meanwhile_decides_again_with_them_locked() -> None:
    uow = FakeUnitOfWork()
    policy = with_quota("DISDAG", 1)
    await register(uow, [message(submission())], policy, NOW)
    uow.state.capacity["DISDAG"] = 1  # another instance took the last place …
    read = FakeStore.capacity
    locks: list[bool] = []

    async def stale_first(store: FakeStore, agencies: Any, lock: bool) -> Any:
        locks.append(lock)
        if not lock:  # … after this batch read the places unlocked
            return ({}, 0)
        return await read(store, agencies, lock)

    FakeStore.capacity = stale_first  # type: ignore[method-assign]
    try:
        summary = await verify(uow, accepted(uow), policy, NOW)
    finally:
        FakeStore.capacity = read  # type: ignore[method-assign]
    assert locks == [False, True]  # the conditional update failed: decided again, locked
    assert summary.counts.get("REJECTED") == 1
    [rejected] = uow.state.events(topics.REJECTED)
    assert [r["code"] for r in rejected["reasons"]] == ["QUOTA_EXCEEDED"]
    assert uow.state.events(topics.ENROLLED) == []
    assert uow.state.capacity == {"DISDAG": 1}


async def test_verify_two_lookalikes_in_one_batch_enrol_the_first_and_hold_the_second() -> None:
    """The same person twice under two NIKs in one upload (a mistyped digit) is held once, as
    it would be in two batches: the second is compared with the first, enrolled just before."""
    uow = FakeUnitOfWork()
    typo = submission(agency_code="DISHUB", submission_id="DISHUB-9",
                      worker__nik="3319014506900007", worker__full_name="SITI AMINAH")  # fmt: skip
    await enrol(uow, [submission(), typo])
    assert status(uow, "DISDAG", "DISDAG-2025-000123") == "ENROLLED"
    assert status(uow, "DISHUB", "DISHUB-9") == "REVIEW"
    [enrolled] = uow.state.events(topics.ENROLLED)
    [held] = uow.state.events(topics.REVIEW_REQUIRED)
    [candidate] = held["candidates"]
    assert candidate["nik"] == SITI
    assert candidate["membership_no"] == enrolled["membership_no"] != ""
    stored = uow.state.submissions[("DISHUB", "DISHUB-9")]["candidates"]
    assert stored[0]["membership_no"] == enrolled["membership_no"]
    assert stored[0]["agency_code"] == "DISDAG"


async def test_verify_holds_the_groups_it_compares_before_it_reads_them() -> None:
    """Two instances deciding a look-alike pair at once must decide it one after the other:
    the batch's groups are held (migration 0022) before their participants are read."""
    uow = FakeUnitOfWork()
    typo = submission(agency_code="DISHUB", submission_id="DISHUB-9",
                      worker__nik="3319014506900007", worker__full_name="SITI AMINAH")  # fmt: skip
    await enrol(uow, [submission(), typo])
    [(first, held), (second, read)] = uow.state.calls
    assert (first, second) == ("lock_groups", "active_in_groups")
    assert held == read and len(held) == 1  # one group: both workers are in it
