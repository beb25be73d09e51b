"""Two instances of every service in the same consumer groups (in this process, each with its
own pool, consumers, publisher and sweeper) take the bulk feed's mix (cross-agency duplicates,
redeliveries, invalid) and a billing run: no double outcome, enrolment or charge."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict

import asyncpg
import pytest

from jamsos.bench.pipeline import feed, messages
from jamsos.domain.coverage import coverage_start
from jamsos.domain.period import Period
from jamsos.publishing import publish_raw
from jamsos.settings import Settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics
from tests.conftest import read_topic, running, wait_until

pytestmark = pytest.mark.integration

SERVICES = ["registration", "verification", "billing"]
OUTCOMES = (topics.ENROLLED, topics.REJECTED, topics.DUPLICATE, topics.REVIEW_REQUIRED)


@pytest.mark.timeout(300)
async def test_two_instances_of_each_service_decide_enrol_and_charge_once(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    f = feed(400, seed=5)
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(running(settings, SERVICES))
        await publish_raw(settings, topics.SUBMITTED, messages(f))

        async def settled() -> bool:
            decided = await pool.fetchval(
                "SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'"
            )
            unpublished = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            covered = await pool.fetchval("SELECT count(*) FROM coverage")
            enrolled = await pool.fetchval("SELECT count(*) FROM participants")
            return bool(decided == f.submissions and unpublished == 0 and covered == enrolled)

        await wait_until(settled, timeout=180, what="every submission decided and in the ledger")
        period = Period.of(coverage_start(jakarta_now(), settings.policy.coverage_start_rule))
        request = {
            "request_id": "two-instances",
            "period": str(period),
            "requested_at": jakarta_now().isoformat(),
        }
        await publish_raw(
            settings,
            topics.BILLING_RUN_REQUESTED,
            [(str(period).encode(), json.dumps(request).encode())],
        )

        async def billed() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM invoices"))

        await wait_until(billed, timeout=120, what="the billing run's invoices")

    bootstrap = settings.kafka_bootstrap or ""
    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for topic in OUTCOMES:
        for event in await read_topic(bootstrap, topic):
            outcomes[(event["agency_code"], event["submission_id"])].add(event["event_id"])
    assert len(outcomes) == f.submissions  # every submission has an outcome …
    assert all(len(ids) == 1 for ids in outcomes.values())  # … with one event_id
    valid = f.mix["valid"]
    assert await pool.fetchval("SELECT count(*) FROM participants") == valid
    enrolled = {e["nik"] for e in await read_topic(bootstrap, topics.ENROLLED)}
    assert len(enrolled) == valid  # one enrolment per worker (duplicates lost the race)
    charges = await pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT membership_no) AS people FROM charges"
    )
    assert charges is not None and charges["n"] == charges["people"] == valid
    used = await pool.fetchval("SELECT used FROM capacity WHERE scope = 'regency'")
    assert used == valid
