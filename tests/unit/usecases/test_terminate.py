"""Terminations on the fake store: end coverage at the end of the effective month, once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jamsos.usecases.termination import terminate
from jamsos_schemas import topics
from tests.factory import submission
from tests.fakes import FakeUnitOfWork
from tests.unit.usecases.support import NOW, POLICY, enrol, message

SITI = "3319014506900001"


def request(**changes: Any) -> dict[str, Any]:
    body = {"request_id": "T-1", "agency_code": "DINSOS", "nik": SITI, "reason": "MOVED_OUT",
            "effective_date": "2025-03-10"}  # fmt: skip
    return {**body, **changes}


async def test_terminate_active_participant_ends_coverage_at_month_end() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    summary = await terminate(uow, [message(request(), topics.TERMINATION_REQUESTED)], POLICY, NOW)
    [event] = uow.state.events(topics.TERMINATED)
    assert summary.counts == {"TERMINATED": 1, "DLQ": 0}
    assert (event["status"], event["coverage_end"]) == ("TERMINATED", "2025-03-31")
    assert uow.state.participants[SITI]["status"] == "TERMINATED"
    assert SITI not in uow.state.claims  # the NIK may be proposed again


async def test_terminate_unknown_nik_reports_not_found_and_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    await terminate(uow, [message(request(), topics.TERMINATION_REQUESTED)], POLICY, NOW)
    [event] = uow.state.events(topics.TERMINATED)
    assert (event["status"], event["membership_no"]) == ("NOT_FOUND", None)
    assert uow.state.participants == {}


async def test_terminate_request_from_unregistered_agency_is_a_dead_letter() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    bad = request(agency_code="DISPAR")
    await terminate(uow, [message(bad, topics.TERMINATION_REQUESTED)], POLICY, NOW)
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("UNKNOWN_AGENCY: ")
    assert uow.state.participants[SITI]["status"] == "ACTIVE"


async def test_terminate_reused_request_id_with_other_content_is_a_dead_letter() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    await terminate(uow, [message(request(), topics.TERMINATION_REQUESTED)], POLICY, NOW)
    other = request(effective_date="2025-04-10")
    await terminate(uow, [message(other, topics.TERMINATION_REQUESTED)], POLICY, NOW)
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("REQUEST_ID_REUSED: ")
    assert uow.state.participants[SITI]["coverage_end"] == dt.date(2025, 3, 31)


async def test_terminate_deceased_after_moving_out_keeps_the_nik_from_reenrolling() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    await terminate(uow, [message(request(), topics.TERMINATION_REQUESTED)], POLICY, NOW)
    died = request(request_id="T-2", reason="DECEASED")
    await terminate(uow, [message(died, topics.TERMINATION_REQUESTED)], POLICY, NOW)
    assert uow.state.participants[SITI]["termination_reason"] == "DECEASED"


async def test_terminate_frees_the_agency_place_the_enrolment_took() -> None:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission()])
    assert uow.state.capacity == {"DISDAG": 1}
    await terminate(uow, [message(request(), topics.TERMINATION_REQUESTED)], POLICY, NOW)
    assert uow.state.capacity == {"DISDAG": 0}
