"""Termination use case (enrolment side) on real PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import asyncpg
import pytest

from jamsos.adapters import participants
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.coverage import JAKARTA
from jamsos.settings import Settings, load_settings
from jamsos.usecases.termination import terminate
from jamsos_schemas import topics
from tests.integration.billing_support import (
    JAN_20,
    enrol,
    feed_ledger,
    record,
    termination,
    workers,
)

pytestmark = pytest.mark.integration

MARCH = dt.datetime(2025, 3, 5, 9, 0, tzinfo=JAKARTA)


@pytest.fixture
def policy_settings(tmp_path: Any) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


async def one_participant(
    pool: asyncpg.Pool, settings: Settings, agency: str = "DISDAG"
) -> dict[str, Any]:
    [payload] = workers({agency: 1}, JAN_20)
    await enrol(pool, settings, [payload], JAN_20)
    return payload


async def send(
    pool: asyncpg.Pool, settings: Settings, *requests: Any, now: dt.datetime = MARCH
) -> Any:
    return await terminate(
        PostgresUnitOfWork(pool),
        [record(r, topics.TERMINATION_REQUESTED) for r in requests],
        settings.policy,
        now,
    )


async def terminated_events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = $1 ORDER BY id", topics.TERMINATED
    )
    return [json.loads(bytes(r["value"])) for r in rows]


async def participant(pool: asyncpg.Pool, nik: str) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM participants WHERE nik = $1", nik)
    assert row is not None
    return dict(row)


async def test_termination_of_active_participant_ends_coverage_at_month_end(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    nik = payload["worker"]["nik"]
    request = termination(nik, "FORMAL_EMPLOYMENT", "2025-03-10", request_id="T-1")
    await send(pool, policy_settings, request)
    row = await participant(pool, nik)
    assert (row["status"], row["coverage_end"], row["termination_reason"]) == (
        "TERMINATED",
        dt.date(2025, 3, 31),
        "FORMAL_EMPLOYMENT",
    )
    [event] = await terminated_events(pool)
    assert event["status"] == "TERMINATED"
    assert (event["membership_no"], event["coverage_start"], event["coverage_end"]) == (
        row["membership_no"],
        "2025-02-01",
        "2025-03-31",
    )
    assert event["request_id"] == "T-1"


async def test_termination_frees_nik_claim_and_agency_quota(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    await send(pool, policy_settings, termination(payload["worker"]["nik"]))
    assert await pool.fetchval("SELECT count(*) FROM nik_claims") == 0
    async with pool.acquire() as conn:
        assert await participants.active_counts(conn) == {}
    used = await pool.fetch("SELECT scope, used FROM capacity WHERE used <> 0")
    assert used == []  # the place is freed in the regency and for the agency


async def test_quota_freed_by_termination_lets_the_agency_enrol_another_worker(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    agencies = tuple(
        dataclasses.replace(a, quota=1 if a.code == "DISHUB" else a.quota)
        for a in policy_settings.policy.agencies
    )
    settings = dataclasses.replace(
        policy_settings, policy=dataclasses.replace(policy_settings.policy, agencies=agencies)
    )
    first, second = workers({"DISHUB": 2}, JAN_20)
    await enrol(pool, settings, [first], JAN_20)
    await send(pool, settings, termination(first["worker"]["nik"], agency="DISHUB"))
    await enrol(pool, settings, [second], MARCH)
    statuses = {
        r["submission_id"]: r["status"]
        for r in await pool.fetch("SELECT submission_id, status FROM submissions")
    }
    assert statuses == {first["submission_id"]: "ENROLLED", second["submission_id"]: "ENROLLED"}


async def test_termination_of_unknown_nik_reports_not_found_and_changes_nothing(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    await send(pool, policy_settings, termination("3319010101900001"))
    [event] = await terminated_events(pool)
    assert event["status"] == "NOT_FOUND"
    assert event["membership_no"] is None and event["coverage_end"] is None
    assert (await participant(pool, payload["worker"]["nik"]))["status"] == "ACTIVE"


async def test_redelivered_termination_request_publishes_one_event(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    request = termination(payload["worker"]["nik"], request_id="T-1")
    await send(pool, policy_settings, request, request)
    summary = await send(pool, policy_settings, request)
    assert summary.repeated == 1
    assert len(await terminated_events(pool)) == 1


async def test_termination_request_id_reused_with_other_content_goes_to_dlq(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    nik = payload["worker"]["nik"]
    await send(pool, policy_settings, termination(nik, "WITHDRAWN", request_id="T-1"))
    await send(pool, policy_settings, termination(nik, "DECEASED", request_id="T-1"))
    [error] = await pool.fetch("SELECT error FROM dead_letters")
    assert error["error"].startswith("REQUEST_ID_REUSED")
    assert (await participant(pool, nik))["termination_reason"] == "WITHDRAWN"


async def test_malformed_termination_request_goes_to_dlq_with_schema_error(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    bad = termination("3319010101900001", reason="RETIRED")
    await send(pool, policy_settings, bad, b"{not json")
    errors = sorted(r["error"] for r in await pool.fetch("SELECT error FROM dead_letters"))
    assert errors[0].startswith("SCHEMA_INVALID: reason")
    assert errors[1].startswith("UNREADABLE")
    assert await terminated_events(pool) == []


async def test_termination_by_unregistered_agency_goes_to_dlq_and_ends_nothing(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    await send(pool, policy_settings, termination(payload["worker"]["nik"], agency="DISPAR"))
    assert (await pool.fetchval("SELECT error FROM dead_letters")).startswith("UNKNOWN_AGENCY")
    assert (await participant(pool, payload["worker"]["nik"]))["status"] == "ACTIVE"


async def test_termination_by_another_agency_is_applied_and_logged_as_foreign(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings, "DISDAG")
    nik = payload["worker"]["nik"]
    await send(pool, policy_settings, termination(nik, "DECEASED", agency="DINSOS"))
    row = await pool.fetchrow(
        "SELECT agency_code, participant_agency_code, status FROM termination_requests"
    )
    assert row is not None
    assert dict(row) == {
        "agency_code": "DINSOS",
        "participant_agency_code": "DISDAG",
        "status": "TERMINATED",
    }
    assert (await participant(pool, nik))["status"] == "TERMINATED"


async def test_deceased_participant_can_never_enrol_again(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    await send(pool, policy_settings, termination(payload["worker"]["nik"], "DECEASED"))
    again = {**payload, "submission_id": "DISDAG-AGAIN"}
    await enrol(pool, policy_settings, [again], MARCH)
    row = await pool.fetchrow(
        "SELECT status, reasons FROM submissions WHERE submission_id = 'DISDAG-AGAIN'"
    )
    assert row is not None
    assert row["status"] == "REJECTED"
    assert [r["code"] for r in row["reasons"]] == ["DECEASED"]


async def test_withdrawn_participant_re_enrols_with_same_membership_no_and_new_coverage(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    nik = payload["worker"]["nik"]
    number = (await participant(pool, nik))["membership_no"]
    await send(pool, policy_settings, termination(nik, "WITHDRAWN", "2025-03-10"))
    again = {**payload, "submission_id": "DISDAG-AGAIN", "submitted_at": MARCH.isoformat()}
    await enrol(pool, policy_settings, [again], MARCH + dt.timedelta(days=30))
    row = await participant(pool, nik)
    assert (row["status"], row["membership_no"], row["coverage_start"], row["coverage_end"]) == (
        "ACTIVE",
        number,
        dt.date(2025, 5, 1),
        None,
    )
    await feed_ledger(pool, MARCH)
    ledger = await pool.fetch(
        "SELECT coverage_start, coverage_end FROM coverage WHERE membership_no = $1"
        " ORDER BY coverage_start",
        number,
    )
    assert [tuple(r.values()) for r in ledger] == [
        (dt.date(2025, 2, 1), dt.date(2025, 3, 31)),
        (dt.date(2025, 5, 1), None),
    ]


async def test_deceased_request_after_withdrawal_records_deceased_and_keeps_coverage_end(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payload = await one_participant(pool, policy_settings)
    nik = payload["worker"]["nik"]
    await send(pool, policy_settings, termination(nik, "WITHDRAWN", "2025-03-10"))
    await send(
        pool,
        policy_settings,
        termination(nik, "DECEASED", "2025-04-02"),
        now=MARCH + dt.timedelta(days=30),
    )
    row = await participant(pool, nik)
    assert (row["termination_reason"], row["coverage_end"]) == ("DECEASED", dt.date(2025, 3, 31))
    first, second = await terminated_events(pool)
    assert first["coverage_end"] == second["coverage_end"] == "2025-03-31"
    assert second["reason"] == "DECEASED" and second["status"] == "TERMINATED"
