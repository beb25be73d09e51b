"""Registration on the fake store: identify, reject, de-duplicate by NIK, never twice.

The NIK claim under concurrent consumers (ON CONFLICT, a holder letting go between insert and
look-up) is SQL behaviour: tests/integration/test_registration_usecase.py proves it; these
tests cover the decisions taken around the claims.
"""

from __future__ import annotations

from jamsos.usecases.registration import register
from jamsos_schemas import topics
from tests.factory import submission
from tests.fakes import FakeUnitOfWork
from tests.unit.usecases.support import NOW, POLICY, message, status


async def test_register_valid_submission_is_accepted_with_its_submission() -> None:
    uow = FakeUnitOfWork()
    summary = await register(uow, [message(submission())], POLICY, NOW)
    [event] = uow.state.events(topics.ACCEPTED)
    assert summary.counts == {"ACCEPTED": 1, "DLQ": 0}
    assert event["submission"]["submission_id"] == "DISDAG-2025-000123"
    assert uow.state.claims == {"3319014506900001": ("DISDAG", "DISDAG-2025-000123")}


async def test_register_redelivered_submission_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    await register(uow, [message(submission())], POLICY, NOW)
    outbox = list(uow.state.outbox)
    again = await register(uow, [message(submission()), message(submission())], POLICY, NOW)
    assert (again.new, again.repeated) == (0, 2)
    assert uow.state.outbox == outbox


async def test_register_resent_later_with_new_submitted_at_is_a_repeat() -> None:
    uow = FakeUnitOfWork()
    await register(uow, [message(submission())], POLICY, NOW)
    later = await register(
        uow, [message(submission(submitted_at="2025-01-16T08:00:00+07:00"))], POLICY, NOW
    )
    assert later.repeated == 1
    assert uow.state.dead_letters == {}


async def test_register_same_identity_other_content_is_a_dead_letter() -> None:
    uow = FakeUnitOfWork()
    await register(uow, [message(submission())], POLICY, NOW)
    await register(uow, [message(submission(worker__phone="+628000"))], POLICY, NOW)
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("SUBMISSION_ID_REUSED: ")


async def test_register_unregistered_agency_is_rejected_with_every_reason() -> None:
    uow = FakeUnitOfWork()
    payload = submission(
        agency_code="DISPAR", submission_id="DISPAR-1", worker__birth_date="2015-06-05"
    )
    await register(uow, [message(payload)], POLICY, NOW)
    [rejected] = uow.state.events(topics.REJECTED)
    codes = [r["code"] for r in rejected["reasons"]]
    assert codes[0] == "UNKNOWN_AGENCY"
    assert "AGE_OUT_OF_RANGE" in codes
    assert status(uow, "DISPAR", "DISPAR-1") == "REJECTED"
    assert uow.state.claims == {}


async def test_register_malformed_worker_is_rejected_as_schema_invalid() -> None:
    uow = FakeUnitOfWork()
    await register(uow, [message(submission(worker__desil=11))], POLICY, NOW)
    [rejected] = uow.state.events(topics.REJECTED)
    assert [r["code"] for r in rejected["reasons"]] == ["SCHEMA_INVALID"]
    assert "desil" in rejected["reasons"][0]["detail"]


async def test_register_nik_held_by_another_agency_is_a_duplicate_naming_it() -> None:
    uow = FakeUnitOfWork()
    await register(uow, [message(submission())], POLICY, NOW)
    other = submission(agency_code="DISHUB", submission_id="DISHUB-1")
    summary = await register(uow, [message(other)], POLICY, NOW)
    [duplicate] = uow.state.events(topics.DUPLICATE)
    assert summary.counts == {"DUPLICATE": 1, "DLQ": 0}
    assert duplicate["existing_agency_code"] == "DISDAG"
    assert status(uow, "DISHUB", "DISHUB-1") == "DUPLICATE"


async def test_register_two_agencies_in_one_batch_first_in_batch_wins() -> None:
    uow = FakeUnitOfWork()
    other = submission(agency_code="DISHUB", submission_id="DISHUB-1")
    await register(uow, [message(other), message(submission())], POLICY, NOW)
    assert [e["submission"]["agency_code"] for e in uow.state.events(topics.ACCEPTED)] == ["DISHUB"]
    assert status(uow, "DISDAG", "DISDAG-2025-000123") == "DUPLICATE"


async def test_register_unreadable_and_anonymous_values_are_dead_letters() -> None:
    uow = FakeUnitOfWork()
    summary = await register(
        uow, [message(b"\xff not utf-8"), message({"worker": {}})], POLICY, NOW
    )
    errors = sorted(e["error"].split(":")[0] for e in uow.state.events(topics.DLQ))
    assert errors == ["IDENTITY_MISSING", "UNREADABLE"]
    assert summary.counts["DLQ"] == 2
    assert uow.state.submissions == {}
