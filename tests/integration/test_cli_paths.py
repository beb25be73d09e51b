"""Operator paths end to end: `jamsos review decide` and `jamsos ops dlq replay` (the CLI as a
subprocess, the services running), `jamsos demo`; what counts as a reused submission id and
what reaches the DLQ; the look-alike threshold on both sides of its edge."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.publishing import publish_model
from jamsos.settings import Settings, load_settings
from jamsos.usecases.registration import register
from jamsos_schemas import topics
from jamsos_schemas.registration import RegistrationReviewDecidedV1
from tests.conftest import clean_env, read_topic, running, wait_until
from tests.factory import submission
from tests.integration.billing_support import cli_process
from tests.integration.test_review import LOOKALIKE, NOW, decide, events, record, status

pytestmark = pytest.mark.integration


def status_is(pool: asyncpg.Pool, submission_id: str, expected: str) -> Any:
    async def check() -> bool:
        return await status(pool, submission_id) == expected

    return check


@pytest.mark.parametrize(
    ("decision", "outcome"), [("ENROL", "ENROLLED"), ("DUPLICATE", "DUPLICATE")]
)
async def test_review_decide_through_the_cli_resolves_the_held_submission(
    settings: Settings, pool: asyncpg.Pool, decision: str, outcome: str
) -> None:
    await decide(pool, settings, [submission()])
    await decide(pool, settings, [LOOKALIKE])
    assert await status(pool, "DISHUB-9") == "REVIEW"
    async with running(settings, ["verification"]):
        result = await cli_process(
            settings, "review", "decide", "DISHUB", "DISHUB-9", decision, "--by", "operator-1"
        )
        assert result.exit_code == 0, result.output
        await wait_until(status_is(pool, "DISHUB-9", outcome), what=f"DISHUB-9 {outcome}")
    [first, *rest] = await events(pool, topics.ENROLLED)
    if outcome == "ENROLLED":
        [enrolled] = rest
        assert enrolled["submission_id"] == "DISHUB-9"
        assert enrolled["membership_no"] != first["membership_no"]  # another person
        assert await events(pool, topics.DUPLICATE) == []
    else:
        assert rest == []
        [duplicate] = await events(pool, topics.DUPLICATE)
        assert (duplicate["submission_id"], duplicate["existing_membership_no"]) == (
            "DISHUB-9",
            first["membership_no"],
        )


async def test_review_decide_takes_an_id_prefix_and_refuses_an_ambiguous_one(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    other = {**LOOKALIKE, "submission_id": "DISHUB-a1b2c3",
             "worker": {**LOOKALIKE["worker"], "nik": "3319014506900008"}}  # fmt: skip
    await decide(pool, settings, [submission()])
    await decide(pool, settings, [LOOKALIKE, other])
    assert [await status(pool, s) for s in ("DISHUB-9", "DISHUB-a1b2c3")] == ["REVIEW"] * 2
    decide_as = ("ENROL", "--by", "operator-1")
    ambiguous = await cli_process(settings, "review", "decide", "DISHUB", "DISHUB-", *decide_as)
    assert ambiguous.exit_code == 2, ambiguous.output
    assert ambiguous.output.strip() == (
        "error: 'DISHUB-' matches several held submissions of DISHUB (DISHUB-9, DISHUB-a1b2c3):"
        " give more characters"
    )
    for given in ("DISHUB-a", "DISHUB-9"):  # a unique prefix; an exact id
        result = await cli_process(settings, "review", "decide", "DISHUB", given, *decide_as)
        assert result.exit_code == 0, result.output
    decided = await read_topic(settings.kafka_bootstrap or "", topics.REVIEW_DECIDED)
    assert [d["submission_id"] for d in decided] == ["DISHUB-a1b2c3", "DISHUB-9"]
    missing = await cli_process(settings, "review", "decide", "DISHUB", "DISHUB-x", *decide_as)
    assert missing.exit_code == 1 and "is not held for review" in missing.output


async def test_dead_letter_replayed_through_the_cli_is_processed(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    early = RegistrationReviewDecidedV1(
        agency_code="DISHUB",
        submission_id="DISHUB-9",
        decision="ENROL",
        decided_by="operator-1",
        decided_at=NOW,
    )
    async with running(settings, ["verification"]):
        # The decision arrives before the hold: NOT_HELD, a dead letter.
        await publish_model(settings, topics.REVIEW_DECIDED, LOOKALIKE["worker"]["nik"], early)

        async def dead_lettered() -> asyncpg.Record | None:
            row: asyncpg.Record | None = await pool.fetchrow(
                "SELECT event_id::text, error, value FROM dead_letters"
            )
            return row

        letter = await wait_until(dead_lettered, what="the early decision in the DLQ")
        assert letter["error"].startswith("NOT_HELD")
        await decide(pool, settings, [submission()])
        await decide(pool, settings, [LOOKALIKE])  # now it is held
        result = await cli_process(settings, "ops", "dlq", "replay", letter["event_id"][:8])
        assert result.exit_code == 0, result.output
        await wait_until(status_is(pool, "DISHUB-9", "ENROLLED"), what="the replayed decision")
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 1  # not dead again
    assert await pool.fetchval("SELECT replayed_at IS NOT NULL FROM dead_letters")
    enrolled = await events(pool, topics.ENROLLED)
    assert [e["submission_id"] for e in enrolled] == ["DISDAG-2025-000123", "DISHUB-9"]


async def test_reused_submission_id_reaches_the_dlq_topic_with_its_original_bytes(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    first = json.dumps(submission()).encode()
    # Same identity, other worker content; odd spacing and a non-ASCII name kept byte for byte.
    reused = (
        json.dumps(submission(worker__full_name="Siti Aminah Ṡ"), indent=1, ensure_ascii=False)
        + "\n"
    ).encode()
    key = b"3319014506900001"
    async with running(settings, ["registration"]):
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=False
        )
        await producer.start()
        try:
            await producer.send_and_wait(topics.SUBMITTED, first, key=key)
            await producer.send_and_wait(topics.SUBMITTED, reused, key=key)
        finally:
            await producer.stop()

        async def on_the_dlq_topic() -> list[dict[str, Any]]:
            return await read_topic(settings.kafka_bootstrap or "", topics.DLQ)

        [letter, *_] = await wait_until(on_the_dlq_topic, what="the dead letter on jamsos.dlq.v1")
    assert letter["error"].startswith("SUBMISSION_ID_REUSED")
    assert base64.b64decode(letter["value_b64"]) == reused
    assert letter["key"] == key.decode()
    assert letter["source_topic"] == "jamsos.registration.submitted.v1"
    stored = await pool.fetchval("SELECT value FROM dead_letters")
    assert bytes(stored) == reused
    assert await pool.fetchval("SELECT count(*) FROM submissions") == 1


async def test_resubmission_with_keys_reordered_and_other_spacing_is_a_repeat_not_a_reuse(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    policy = load_settings(env={}, cwd=tmp_path).policy
    payload = submission()
    reordered = {k: payload[k] for k in reversed(payload)}
    reordered["worker"] = {k: payload["worker"][k] for k in reversed(payload["worker"])}
    assert json.dumps(reordered) != json.dumps(payload)
    await register(PostgresUnitOfWork(pool), [record(json.dumps(payload).encode())], policy, NOW)
    again = await register(
        PostgresUnitOfWork(pool), [record(json.dumps(reordered, indent=2).encode())], policy, NOW
    )
    assert (again.new, again.repeated) == (0, 1)
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


# token_sort_ratio("siti amina", "siti amino") = 90.0 (9 of 10 characters alike: the edge);
# ("siti aminah sri", "siti amina sro") = 89.66 (just under it).
@pytest.mark.parametrize(
    ("enrolled_name", "proposed_name", "held"),
    [("Siti Amina", "Siti Amino", True), ("Siti Aminah Sri", "Siti Amina Sro", False)],
)
async def test_lookalike_name_at_the_threshold_is_held_and_just_below_it_is_enrolled(
    pool: asyncpg.Pool, tmp_path: Path, enrolled_name: str, proposed_name: str, held: bool
) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    await decide(pool, settings, [submission(worker__full_name=enrolled_name)])
    other = submission(
        agency_code="DISHUB",
        submission_id="DISHUB-9",
        worker__nik="3319014506900007",  # same birth date, sex and village; another NIK
        worker__full_name=proposed_name,
    )
    await decide(pool, settings, [other])
    expected = "REVIEW" if held else "ENROLLED"
    assert await status(pool, "DISHUB-9") == expected
    reviews = await events(pool, topics.REVIEW_REQUIRED)
    assert [c["score"] for r in reviews for c in r["candidates"]] == ([0.9] if held else [])


@pytest.mark.timeout(360)  # the whole demo as a process: 63 s on a loaded 2-core machine
async def test_demo_runs_the_whole_flow_and_reconciles(
    tmp_path: Path, embedded_state_dir: Path
) -> None:
    import asyncio
    import sys

    # No broker or database configured: the demo starts its own (tansu, embedded PostgreSQL).
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jamsos",
        "demo",
        "--workers",
        "20",
        env=clean_env(JAMSOS_STATE_DIR=str(embedded_state_dir)),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    text = out.decode()
    assert proc.returncode == 0, text
    assert "demo finished" in text
    assert "reconciled:" in text
