"""Look-alikes under another NIK are held for review, then enrolled or marked duplicate."""

from __future__ import annotations

import datetime as dt
import json
from itertools import count
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.coverage import JAKARTA
from jamsos.settings import Settings, load_settings
from jamsos.usecases.messages import Message
from jamsos.usecases.registration import register
from jamsos.usecases.review import decide_reviews
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from jamsos_schemas.registration import RegistrationReviewDecidedV1
from tests.factory import submission

pytestmark = pytest.mark.integration

NOW = dt.datetime(2025, 1, 20, 10, 0, tzinfo=JAKARTA)
_offsets = count()
# Siti Aminah again, proposed by DISHUB with one NIK digit mistyped (serial 0001 -> 0007)
LOOKALIKE = submission(
    agency_code="DISHUB",
    submission_id="DISHUB-9",
    worker__nik="3319014506900007",
    worker__full_name="SITI AMINAH",
)


def record(payload: Any, topic: str = topics.SUBMITTED) -> Message:
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic, 0, next(_offsets), None, value)


@pytest.fixture
def settings_(tmp_path: Path) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


async def decide(pool: asyncpg.Pool, settings: Settings, payloads: list[Any]) -> None:
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    await register(PostgresUnitOfWork(pool), [record(p) for p in payloads], settings.policy, NOW)
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = $1 AND id > $2 ORDER BY id", topics.ACCEPTED, before
    )
    await verify(
        PostgresUnitOfWork(pool),
        [record(bytes(r["value"]), topics.ACCEPTED) for r in rows],
        settings.policy,
        NOW,
    )


def review(decision: str, by: str = "operator-1") -> Message:
    command = RegistrationReviewDecidedV1(
        agency_code="DISHUB",
        submission_id="DISHUB-9",
        decision=decision,  # type: ignore[arg-type]
        decided_by=by,
        decided_at=NOW,
    )
    return record(command.model_dump_json().encode(), topics.REVIEW_DECIDED)


async def events(pool: asyncpg.Pool, topic: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT value FROM outbox WHERE topic = $1 ORDER BY id", topic)
    return [json.loads(bytes(r["value"])) for r in rows]


async def status(pool: asyncpg.Pool, sid: str) -> str:
    value: str = await pool.fetchval("SELECT status FROM submissions WHERE submission_id = $1", sid)
    return value


async def test_lookalike_under_another_nik_is_held_with_candidates(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await decide(pool, settings_, [submission()])
    await decide(pool, settings_, [LOOKALIKE])
    [held] = await events(pool, topics.REVIEW_REQUIRED)
    [enrolled] = await events(pool, topics.ENROLLED)
    assert held["candidates"][0]["membership_no"] == enrolled["membership_no"]
    assert held["candidates"][0]["score"] == 1.0
    assert await status(pool, "DISHUB-9") == "REVIEW"


async def test_review_decided_duplicate_names_the_existing_participant(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await decide(pool, settings_, [submission()])
    await decide(pool, settings_, [LOOKALIKE])
    await decide_reviews(PostgresUnitOfWork(pool), [review("DUPLICATE")], settings_.policy, NOW)
    [duplicate] = await events(pool, topics.DUPLICATE)
    [enrolled] = await events(pool, topics.ENROLLED)
    assert duplicate["existing_membership_no"] == enrolled["membership_no"]
    assert duplicate["existing_agency_code"] == "DISDAG"
    assert await status(pool, "DISHUB-9") == "DUPLICATE"


async def test_review_decided_enrol_enrols_once_even_when_redelivered(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await decide(pool, settings_, [submission()])
    await decide(pool, settings_, [LOOKALIKE])
    await decide_reviews(PostgresUnitOfWork(pool), [review("ENROL")], settings_.policy, NOW)
    await decide_reviews(PostgresUnitOfWork(pool), [review("ENROL")], settings_.policy, NOW)
    enrolled = await events(pool, topics.ENROLLED)
    assert [e["submission_id"] for e in enrolled] == ["DISDAG-2025-000123", "DISHUB-9"]
    assert await events(pool, topics.DLQ) == []


async def test_conflicting_review_decision_goes_to_the_dlq(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await decide(pool, settings_, [submission()])
    await decide(pool, settings_, [LOOKALIKE])
    await decide_reviews(PostgresUnitOfWork(pool), [review("ENROL")], settings_.policy, NOW)
    await decide_reviews(PostgresUnitOfWork(pool), [review("DUPLICATE")], settings_.policy, NOW)
    [letter] = await events(pool, topics.DLQ)
    assert letter["error"].startswith("REVIEW_DECISION_CONFLICT")
    assert await status(pool, "DISHUB-9") == "ENROLLED"


async def test_review_decision_for_a_submission_not_held_goes_to_the_dlq(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await decide_reviews(PostgresUnitOfWork(pool), [review("ENROL")], settings_.policy, NOW)
    [letter] = await events(pool, topics.DLQ)
    assert letter["error"].startswith("NOT_HELD")


async def test_namesake_born_elsewhere_in_time_is_enrolled_without_review(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await decide(pool, settings_, [submission()])
    namesake = submission(
        agency_code="DISHUB",
        submission_id="DISHUB-10",
        worker__nik="3319014507900001",
        worker__birth_date="1990-07-05",
    )
    await decide(pool, settings_, [namesake])
    assert await events(pool, topics.REVIEW_REQUIRED) == []
    assert len(await events(pool, topics.ENROLLED)) == 2


async def test_decision_sent_before_the_hold_can_be_replayed_once_held(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    early = review("ENROL")
    await decide_reviews(
        PostgresUnitOfWork(pool), [early], settings_.policy, NOW
    )  # nothing held yet
    await decide(pool, settings_, [submission()])
    await decide(pool, settings_, [LOOKALIKE])
    await decide_reviews(
        PostgresUnitOfWork(pool), [early], settings_.policy, NOW
    )  # the replayed dead letter
    assert await status(pool, "DISHUB-9") == "ENROLLED"
    [letter] = await events(pool, topics.DLQ)
    assert letter["error"].startswith("NOT_HELD")


async def test_a_lookalike_pair_in_one_batch_enrols_the_first_and_holds_the_second(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    await decide(pool, settings_, [submission(), LOOKALIKE])
    [enrolled] = await events(pool, topics.ENROLLED)
    [held] = await events(pool, topics.REVIEW_REQUIRED)
    assert held["candidates"][0]["membership_no"] == enrolled["membership_no"]
    await decide_reviews(PostgresUnitOfWork(pool), [review("DUPLICATE")], settings_.policy, NOW)
    [duplicate] = await events(pool, topics.DUPLICATE)
    assert duplicate["existing_membership_no"] == enrolled["membership_no"]
    assert duplicate["existing_agency_code"] == "DISDAG"


async def test_two_instances_deciding_a_lookalike_pair_at_once_hold_one_of_them(
    pool: asyncpg.Pool, settings_: Settings
) -> None:
    """Batch A (Siti) has enrolled her and waits before its commit, on the regency's capacity
    row that this test holds; batch B (the look-alike, another agency and partition) starts
    then. B must wait for A's group (migration 0022) and see Siti; without it B reads the group
    before A commits and both are enrolled."""
    import asyncio

    from tests.conftest import wait_until

    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    await register(
        PostgresUnitOfWork(pool), [record(submission()), record(LOOKALIKE)], settings_.policy, NOW
    )
    rows = await pool.fetch(
        "SELECT key, value FROM outbox WHERE topic = $1 AND id > $2 ORDER BY id",
        topics.ACCEPTED,
        before,
    )
    a, b = ([record(bytes(r["value"]), topics.ACCEPTED)] for r in rows)

    async def at_least(n: int) -> bool:
        """Whether n of this database's sessions wait for a lock."""
        waiting: int = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return waiting >= n

    holder = await pool.acquire()
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM capacity WHERE scope = 'regency' FOR UPDATE")
        first = asyncio.create_task(verify(PostgresUnitOfWork(pool), a, settings_.policy, NOW))
        await wait_until(lambda: at_least(1), 30, "batch A to wait before its commit")
        second = asyncio.create_task(verify(PostgresUnitOfWork(pool), b, settings_.policy, NOW))
        await wait_until(lambda: at_least(2), 30, "batch B to wait too")
        await tx.rollback()
    finally:
        await pool.release(holder)
    await asyncio.gather(first, second)
    assert await status(pool, "DISDAG-2025-000123") == "ENROLLED"
    assert await status(pool, "DISHUB-9") == "REVIEW"
    [held] = await events(pool, topics.REVIEW_REQUIRED)
    [enrolled] = await events(pool, topics.ENROLLED)
    assert held["candidates"][0]["membership_no"] == enrolled["membership_no"]
