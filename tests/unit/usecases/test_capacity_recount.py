"""`jamsos ops capacity recount` and reconcile's capacity check on the fake store (the fake keeps
agency counters; the regency's is their sum). tests/integration/test_capacity_recount.py proves
the SQL, the operator's rights and the locking next to a termination."""

from __future__ import annotations

import datetime as dt

from jamsos.domain.reconciliation import CapacityCount, Mismatch, check_capacity
from jamsos.usecases.capacity import recount
from jamsos.usecases.reconciliation import reconcile
from jamsos.usecases.rows import AuditAction, CapacityChange
from tests.factory import submission
from tests.fakes import FakeUnitOfWork
from tests.unit.usecases.support import NOW, enrol

HOUR = dt.timedelta(hours=1)
SECOND = submission(submission_id="DISDAG-2", worker__nik="3319010101900002",
                    worker__birth_date="1990-01-01", worker__sex="M")  # fmt: skip


async def two_enrolled() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await enrol(uow, [submission(), SECOND])
    assert uow.state.capacity == {"DISDAG": 2}
    return uow


async def test_recount_of_counters_in_step_changes_nothing_and_audits_nothing() -> None:
    uow = await two_enrolled()
    assert await recount(uow, "siti", NOW) == []
    assert uow.state.capacity == {"DISDAG": 2} and uow.state.audit == []


async def test_recount_sets_a_drifted_counter_to_the_active_participants_and_audits_it() -> None:
    uow = await two_enrolled()
    uow.state.capacity.update(DISDAG=5, DISHUB=1)  # an edit by hand
    changes = await recount(uow, "siti", NOW)
    assert changes == [
        CapacityChange("regency", 6, 2),
        CapacityChange("agency:DISHUB", 1, 0),
        CapacityChange("agency:DISDAG", 5, 2),
    ]
    assert uow.state.capacity == {"DISDAG": 2, "DISHUB": 0}
    [(at, entry)] = uow.state.audit
    assert (at, entry.actor, entry.action, entry.subject) == (
        NOW,
        "siti",
        AuditAction.CAPACITY_RECOUNT,
        "capacity",
    )
    assert entry.detail["changes"][2] == {"scope": "agency:DISDAG", "before": 5, "after": 2}


async def test_recount_creates_the_missing_row_of_an_agency_with_participants() -> None:
    uow = await two_enrolled()
    del uow.state.capacity["DISDAG"]
    changes = await recount(uow, "siti", NOW)
    assert CapacityChange("agency:DISDAG", None, 2) in changes
    assert uow.state.capacity == {"DISDAG": 2}


async def test_reconcile_reports_a_drifted_counter_and_is_clean_after_the_recount() -> None:
    uow = await two_enrolled()
    uow.state.capacity["DISDAG"] = 1
    found = (await reconcile(uow, None, NOW, HOUR)).mismatches
    assert Mismatch("capacity agency:DISDAG", "places used = active participants", 2, 1) in found
    await recount(uow, "siti", NOW)
    result = await reconcile(uow, None, NOW, HOUR)
    assert [m for m in result.mismatches if m.scope.startswith("capacity")] == []
    assert CapacityCount("agency:DISDAG", 2, 2) in result.capacity


def test_capacity_check_wants_the_regency_row_and_rows_of_agencies_with_participants() -> None:
    counts = [
        CapacityCount("regency", None, 0),
        CapacityCount("agency:DISHUB", None, 3),
        CapacityCount("agency:DISDAG", None, 0),  # no participants: no row needed
        CapacityCount("agency:BPBD", 4, 4),
    ]
    assert check_capacity(counts) == [
        Mismatch("capacity regency", "the scope has a capacity row", 1, 0),
        Mismatch("capacity agency:DISHUB", "the scope has a capacity row", 1, 0),
    ]


def test_capacity_check_reports_a_counter_above_or_below_the_truth() -> None:
    counts = [CapacityCount("regency", 26_000, 25_990), CapacityCount("agency:BPBD", 3, 4)]
    assert check_capacity(counts) == [
        Mismatch("capacity regency", "places used = active participants", 25_990, 26_000),
        Mismatch("capacity agency:BPBD", "places used = active participants", 4, 3),
    ]
