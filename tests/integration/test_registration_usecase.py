"""Registration and verification use cases on real PostgreSQL: outcomes, races, redelivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from itertools import count
from typing import Any

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.coverage import JAKARTA
from jamsos.settings import Settings, load_settings
from jamsos.usecases.messages import Message
from jamsos.usecases.registration import register
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.factory import submission

pytestmark = pytest.mark.integration

NOW = dt.datetime(2025, 1, 20, 10, 0, tzinfo=JAKARTA)
_offsets = count()


def record(payload: Any, topic: str = topics.SUBMITTED) -> Message:
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic, 0, next(_offsets), None, value)


@pytest.fixture
def policy_settings(tmp_path: Any) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


async def accepted_records(pool: asyncpg.Pool) -> list[Message]:
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = $1 ORDER BY id", topics.ACCEPTED
    )
    return [record(bytes(r["value"]), topics.ACCEPTED) for r in rows]


async def events(pool: asyncpg.Pool, topic: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return [json.loads(bytes(r["value"])) for r in rows]


async def decide(pool: asyncpg.Pool, settings: Settings, payloads: list[Any]) -> None:
    await register(PostgresUnitOfWork(pool), [record(p) for p in payloads], settings.policy, NOW)
    await verify(PostgresUnitOfWork(pool), await accepted_records(pool), settings.policy, NOW)


async def test_eligible_submission_is_enrolled_with_contract_fields(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await decide(pool, policy_settings, [submission()])
    [enrolled] = await events(pool, topics.ENROLLED)
    assert enrolled["coverage_start"] == "2025-02-01"
    assert enrolled["monthly_premium"] == {"JKK": 10000, "JKM": 6800, "total": 16800}
    assert enrolled["programs"] == ["JKK", "JKM"]
    assert enrolled["payer_code"] == "PEMKAB-KUDUS"
    assert enrolled["funding_source"] == "DBHCHT"
    assert enrolled["worker"]["nik"] == "3319014506900001"
    assert enrolled["membership_no"].startswith("KDS-")


async def test_submission_with_every_personal_problem_lists_every_reason(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    bad = submission(
        worker__nik="3319015506000000",  # serial 0000, and day 15 (+40) != birth day
        worker__birth_date="2012-06-05",  # 12 years old
        worker__address={"village_code": "3374011001"},
    )
    await decide(pool, policy_settings, [bad])
    [rejected] = await events(pool, topics.REJECTED)
    codes = [r["code"] for r in rejected["reasons"]]
    assert codes == ["NIK_INVALID", "NIK_MISMATCH", "OUT_OF_REGION", "AGE_OUT_OF_RANGE"]


async def test_schema_errors_are_all_reported_in_one_reason(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    bad = submission(worker__desil=11, worker__sex="X")
    await decide(pool, policy_settings, [bad])
    [rejected] = await events(pool, topics.REJECTED)
    [reason] = rejected["reasons"]
    assert reason["code"] == "SCHEMA_INVALID"
    assert "worker.desil" in reason["detail"] and "worker.sex" in reason["detail"]


async def test_unknown_agency_is_rejected_with_personal_reasons_too(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await decide(
        pool,
        policy_settings,
        [submission(agency_code="DISPAR", worker__address={"village_code": "3374011001"})],
    )
    [rejected] = await events(pool, topics.REJECTED)
    assert [r["code"] for r in rejected["reasons"]] == ["UNKNOWN_AGENCY", "OUT_OF_REGION"]


async def test_unreadable_and_unidentified_messages_go_to_the_dlq_whole(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await register(
        PostgresUnitOfWork(pool),
        [record(b"\xff not json"), record({"agency_code": "DISDAG"})],
        policy_settings.policy,
        NOW,
    )
    letters = await events(pool, topics.DLQ)
    assert sorted(d["error"].split(":")[0] for d in letters) == ["IDENTITY_MISSING", "UNREADABLE"]
    stored = await pool.fetch("SELECT value FROM dead_letters")
    assert b"\xff not json" in {bytes(r["value"]) for r in stored}


async def test_redelivered_submission_yields_no_second_outcome(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await decide(pool, policy_settings, [submission()])
    before = await pool.fetch("SELECT status, decided_at FROM submissions")
    outbox_rows = await pool.fetchval("SELECT count(*) FROM outbox")
    summary = await register(
        PostgresUnitOfWork(pool),
        [record(submission()), record(submission())],
        policy_settings.policy,
        NOW,
    )
    assert (summary.new, summary.repeated) == (0, 2)
    assert await pool.fetch("SELECT status, decided_at FROM submissions") == before
    assert await pool.fetchval("SELECT count(*) FROM outbox") == outbox_rows


async def test_submission_resent_later_with_new_submitted_at_is_a_repeat_not_a_reuse(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await decide(pool, policy_settings, [submission()])
    later = submission(submitted_at="2025-03-02T08:00:00+07:00")
    summary = await register(PostgresUnitOfWork(pool), [record(later)], policy_settings.policy, NOW)
    assert (summary.new, summary.repeated) == (0, 1)
    assert await events(pool, topics.DLQ) == []
    assert len(await events(pool, topics.ENROLLED)) == 1


async def test_reused_submission_id_with_other_content_goes_to_the_dlq(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await decide(pool, policy_settings, [submission()])
    await register(
        PostgresUnitOfWork(pool),
        [record(submission(worker__phone="+628000"))],
        policy_settings.policy,
        NOW,
    )
    [letter] = await events(pool, topics.DLQ)
    assert letter["error"].startswith("SUBMISSION_ID_REUSED")
    assert len(await events(pool, topics.ENROLLED)) == 1


async def test_same_nik_from_two_agencies_at_once_enrols_once_and_names_the_other(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    disdag = submission()
    dishub = submission(agency_code="DISHUB", submission_id="DISHUB-1")
    await asyncio.gather(
        register(PostgresUnitOfWork(pool), [record(disdag)], policy_settings.policy, NOW),
        register(PostgresUnitOfWork(pool), [record(dishub)], policy_settings.policy, NOW),
    )
    await verify(
        PostgresUnitOfWork(pool), await accepted_records(pool), policy_settings.policy, NOW
    )
    assert len(await events(pool, topics.ENROLLED)) == 1
    [duplicate] = await events(pool, topics.DUPLICATE)
    winner = (await events(pool, topics.ENROLLED))[0]["agency_code"]
    assert duplicate["existing_agency_code"] == winner != duplicate["agency_code"]
    assert duplicate["existing_membership_no"] is None  # the other was still in flight


async def test_nik_of_enrolled_participant_is_duplicate_with_membership_no(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await decide(pool, policy_settings, [submission()])
    await register(
        PostgresUnitOfWork(pool),
        [record(submission(agency_code="BPBD", submission_id="B-1"))],
        policy_settings.policy,
        NOW,
    )
    [enrolled] = await events(pool, topics.ENROLLED)
    [duplicate] = await events(pool, topics.DUPLICATE)
    assert duplicate["existing_membership_no"] == enrolled["membership_no"]
    assert duplicate["match"] == "NIK"


async def test_rejected_nik_can_be_proposed_again(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await decide(pool, policy_settings, [submission(submitted_at="2008-01-15T09:30:00+07:00")])
    await decide(pool, policy_settings, [submission(submission_id="DISDAG-2")])
    assert len(await events(pool, topics.REJECTED)) == 1
    assert len(await events(pool, topics.ENROLLED)) == 1


async def test_full_regency_ceiling_rejects_with_quota_exceeded(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    from dataclasses import replace

    tight = replace(policy_settings, policy=replace(policy_settings.policy, ceiling=1))
    second = submission(
        submission_id="DISDAG-2",
        worker__nik="3319010101900002",
        worker__birth_date="1990-01-01",
        worker__sex="M",
    )
    await decide(pool, tight, [submission(), second])
    assert len(await events(pool, topics.ENROLLED)) == 1
    [rejected] = await events(pool, topics.REJECTED)
    assert [r["code"] for r in rejected["reasons"]] == ["QUOTA_EXCEEDED"]


async def test_messages_postgres_cannot_store_go_to_the_dlq_instead_of_blocking_the_batch(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    nul = json.dumps(submission(submission_id="NUL-1", worker__full_name="Siti\u0000")).encode()
    long_id = submission(submission_id="X" * 5000)
    a_bit_long = submission(submission_id="Y" * 65)
    good = submission(submission_id="GOOD-1")
    batch = [record(nul), record(long_id), record(a_bit_long), record(good)]
    await register(PostgresUnitOfWork(pool), batch, policy_settings.policy, NOW)
    errors = sorted(d["error"].split(":")[0] for d in await events(pool, topics.DLQ))
    assert errors == ["IDENTITY_INVALID", "UNREADABLE"]
    assert len(await events(pool, topics.ACCEPTED)) == 1
    [rejected] = await events(pool, topics.REJECTED)  # readable, so it gets an outcome
    assert rejected["reasons"][0]["code"] == "SCHEMA_INVALID"


UNREADABLE_VALUES = {
    "utf16": json.dumps(submission(submission_id="U16")).encode("utf-16"),
    "huge_integer": b'{"agency_code": "DISDAG", "submission_id": "BIG", "x": ' + b"9" * 5000 + b"}",
    "deep_nesting": b'{"agency_code": "DISDAG", "submission_id": "DEEP", "x": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}",
}


@pytest.mark.parametrize("kind", sorted(UNREADABLE_VALUES))
async def test_value_json_cannot_read_goes_to_the_dlq_not_back_to_the_broker(
    pool: asyncpg.Pool, policy_settings: Settings, kind: str
) -> None:
    good = submission(submission_id="GOOD-2")
    await register(
        PostgresUnitOfWork(pool),
        [record(UNREADABLE_VALUES[kind]), record(good)],
        policy_settings.policy,
        NOW,
    )
    [letter] = await events(pool, topics.DLQ)
    assert letter["error"].startswith("UNREADABLE")
    assert len(await events(pool, topics.ACCEPTED)) == 1
