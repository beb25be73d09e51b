"""A verification process killed (SIGKILL) mid-stream loses nothing and doubles nothing."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from typing import Any

import asyncpg
import pytest

from jamsos import synthetic
from jamsos.publishing import publish_submissions
from jamsos.settings import Settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics
from tests.conftest import ServiceProcesses, read_topic, running, wait_until

# service processes started, killed mid-stream and started again over 5,000 submissions:
# 80 s on a loaded 2-core machine, and a wait of up to 240 s for the ledger
pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]

COUNT = 5000


def cohort(size: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    today = jakarta_now().date()
    agencies = ["DISDAG", "DISHUB", "BPBD", "DINSOS"]
    out = []
    for i in range(size):
        person = synthetic.worker(rng, i, today)
        birth = dt.date.fromisoformat(person["birth_date"])
        person["nik"] = synthetic.nik_for(
            birth, person["sex"], 1 + i % 9999, f"3319{1 + i // 9999:02d}"
        )
        out.append(synthetic.submission(agencies[i % 4], f"CRASH-{i:05d}", person, jakarta_now()))
    return out


async def test_verification_killed_mid_stream_loses_and_doubles_nothing(
    settings: Settings, pool: asyncpg.Pool, processes: ServiceProcesses
) -> None:
    payloads = cohort(COUNT)
    assert len({p["worker"]["nik"] for p in payloads}) == COUNT

    async def decided() -> int:
        n: int = await pool.fetchval("SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'")
        return n

    async with running(settings, ["registration"]):
        processes.start(settings, "verification")
        await publish_submissions(settings, payloads)
        await wait_until(decided, timeout=120, what="the first decisions")
        processes.kill(0)
        at_kill = await decided()
        assert at_kill < COUNT, "the kill came too late to test anything"

        processes.start(settings, "verification")

        async def all_decided_and_published() -> bool:
            unpublished = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return await decided() == COUNT and unpublished == 0

        await wait_until(all_decided_and_published, timeout=180, what="every outcome")

    bootstrap = settings.kafka_bootstrap or ""
    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for topic in (topics.ENROLLED, topics.REJECTED, topics.DUPLICATE):
        for event in await read_topic(bootstrap, topic):
            outcomes[(event["agency_code"], event["submission_id"])].add(event["event_id"])
    assert len(outcomes) == COUNT
    assert all(len(ids) == 1 for ids in outcomes.values())
    assert await pool.fetchval("SELECT count(*) FROM participants") == COUNT
    assert await pool.fetchval("SELECT count(DISTINCT membership_no) FROM participants") == COUNT


async def test_registration_and_billing_ledger_killed_mid_stream_lose_and_double_nothing(
    settings: Settings, pool: asyncpg.Pool, processes: ServiceProcesses
) -> None:
    count = 3000
    payloads = cohort(count)

    async def decided() -> int:
        n: int = await pool.fetchval("SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'")
        return n

    async def in_ledger() -> int:
        n: int = await pool.fetchval("SELECT count(*) FROM coverage WHERE payer_code IS NOT NULL")
        return n

    async with running(settings, ["verification"]):
        processes.start(settings, "registration")  # 0
        processes.start(settings, "billing")  # 1
        await publish_submissions(settings, payloads)
        received = await wait_until(
            lambda: pool.fetchval("SELECT count(*) FROM submissions"),
            timeout=120,
            what="registration at work",
        )
        processes.kill(0)
        at_kill = await pool.fetchval("SELECT count(*) FROM submissions")
        assert received <= at_kill < count, "the registration kill came too late"
        processes.start(settings, "registration")  # 2

        await wait_until(in_ledger, timeout=120, what="the billing ledger at work")
        processes.kill(1)
        ledger_at_kill = await in_ledger()
        assert ledger_at_kill < count, "the ledger kill came too late to test anything"
        processes.start(settings, "billing")  # 3

        async def all_in_ledger() -> bool:
            return await decided() == count and await in_ledger() == count

        await wait_until(all_in_ledger, timeout=240, what="every enrolment in the ledger")

    events: dict[tuple[str, str], list[str]] = defaultdict(list)
    rows = await pool.fetch(
        "SELECT topic, value FROM outbox WHERE topic = ANY($1::text[])",
        [topics.ENROLLED, topics.REJECTED, topics.DUPLICATE, topics.REVIEW_REQUIRED],
    )
    for row in rows:
        event = json.loads(bytes(row["value"]))
        events[(event["agency_code"], event["submission_id"])].append(row["topic"])
    assert len(events) == count
    assert all(t == [topics.ENROLLED] for t in events.values())
    assert await pool.fetchval("SELECT count(*) FROM participants") == count
    assert await pool.fetchval("SELECT count(DISTINCT membership_no) FROM coverage") == count
    assert await pool.fetchval("SELECT count(*) FROM coverage") == count
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0  # redelivery = repeat
