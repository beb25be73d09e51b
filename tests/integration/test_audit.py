"""The audit log (0009_audit.sql): review decisions, dead-letter replays and discards each
leave who, what, about what and why, in the transaction of the change, readable with
`jamsos ops audit`; each written while logged in as the role that really writes it."""

from __future__ import annotations

import json
from dataclasses import replace

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.settings import Settings
from jamsos.usecases.registration import register
from jamsos.usecases.review import decide_reviews
from jamsos_schemas import topics
from tests.factory import submission
from tests.integration.billing_support import cli
from tests.integration.roles_support import role_pool, role_urls
from tests.integration.test_review import LOOKALIKE, NOW, decide, record, review

pytestmark = pytest.mark.integration
__all__ = ["role_urls"]  # the fixture


async def audit_rows(pool: asyncpg.Pool) -> list[dict[str, object]]:
    rows = await pool.fetch(
        "SELECT actor, action, subject, reason, detail FROM audit_log ORDER BY audit_id"
    )
    return [dict(r) for r in rows]


async def dead_letter(pool: asyncpg.Pool, settings: Settings) -> str:
    await register(PostgresUnitOfWork(pool), [record(b"\xff not json")], settings.policy, NOW)
    letter: str = await pool.fetchval("SELECT event_id::text FROM dead_letters")
    return letter


async def test_a_review_decision_is_audited_under_its_reviewer_by_the_verification_role(
    settings: Settings, pool: asyncpg.Pool, role_urls: dict[str, str]
) -> None:
    await decide(pool, settings, [submission()])
    await decide(pool, settings, [LOOKALIKE])
    async with role_pool(role_urls["verification"]) as verification:
        uow = PostgresUnitOfWork(verification)
        await decide_reviews(uow, [review("ENROL", by="siti.ops")], settings.policy, NOW)
        await decide_reviews(uow, [review("ENROL", by="siti.ops")], settings.policy, NOW)
    assert await audit_rows(pool) == [  # once: the redelivery changed nothing
        {
            "actor": "siti.ops",
            "action": "review.enrol",
            "subject": "DISHUB/DISHUB-9",
            "reason": None,
            "detail": {"decided_at": NOW.isoformat()},
        }
    ]


async def test_replay_and_discard_are_audited_under_jamsos_actor_and_listed_by_ops_audit(
    settings: Settings, pool: asyncpg.Pool, role_urls: dict[str, str]
) -> None:
    letter = await dead_letter(pool, settings)
    operator = replace(settings, database_url=role_urls["operator"], actor="budi")
    replayed = await cli(operator, "ops", "dlq", "replay", letter[:8])
    assert replayed.exit_code == 0, replayed.output
    await register(  # the replayed bytes are dead-lettered again, under another event id
        PostgresUnitOfWork(pool), [record(b"\xff not json")], settings.policy, NOW
    )
    discarded = await cli(operator, "ops", "dlq", "discard", letter, "--reason", "uji coba")
    assert discarded.exit_code == 0, discarded.output
    again = await cli(operator, "ops", "dlq", "discard", letter, "--reason", "lagi")
    assert again.exit_code == 1  # refused: nothing audited for it
    rows = await audit_rows(pool)
    assert [(r["actor"], r["action"], r["subject"], r["reason"]) for r in rows] == [
        ("budi", "dlq.replay", letter, None),
        ("budi", "dlq.discard", letter, "uji coba"),
    ]
    assert rows[1]["detail"] == {"source_topic": topics.SUBMITTED, "error": "UNREADABLE"}

    listed = await cli(operator, "ops", "audit", "--json")
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert [(d["action"], d["actor"], d["subject"]) for d in document] == [
        ("dlq.discard", "budi", letter),
        ("dlq.replay", "budi", letter),
    ]
    assert set(document[0]) == {"at", "actor", "action", "subject", "reason", "detail"}
    only = await cli(operator, "ops", "audit", "--json", "--action", "dlq.replay")
    assert [d["action"] for d in json.loads(only.stdout)] == ["dlq.replay"]
    human = await cli(operator, "ops", "audit")
    assert "uji coba" in human.output and "budi" in human.output
    bad = await cli(operator, "ops", "audit", "--action", "delete")
    assert bad.exit_code == 2 and "error: --action 'delete'" in bad.output
    monitor = replace(settings, database_url=role_urls["monitor"])
    refused = await cli(monitor, "ops", "audit")
    assert refused.exit_code == 2 and "error: PostgreSQL refused" in refused.output


async def test_a_discard_whose_audit_entry_fails_is_not_discarded(
    settings: Settings, pool: asyncpg.Pool, role_urls: dict[str, str]
) -> None:
    letter = await dead_letter(pool, settings)
    await pool.execute("REVOKE INSERT ON audit_log FROM jamsos_operator")  # this database only
    operator = replace(settings, database_url=role_urls["operator"], actor="budi")
    result = await cli(operator, "ops", "dlq", "discard", letter, "--reason", "uji coba")
    assert result.exit_code == 2 and "error: PostgreSQL refused" in result.output
    assert await pool.fetchval("SELECT discarded_at FROM dead_letters") is None
    assert await audit_rows(pool) == []
