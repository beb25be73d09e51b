"""Quotas and the regency ceiling without a global lock: capacity rows taken by a conditional
update at the end of each batch; contended batches decided again with the rows locked, the
last places going in batch order. Races are forced (a barrier), not hoped for."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from jamsos.adapters import capacity
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.policy import Policy
from jamsos.settings import Settings, load_settings
from jamsos.usecases.registration import register
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.conftest import ServiceProcesses, running, wait_until
from tests.integration.billing_support import JAN_20, record, workers
from tests.integration.test_races import accepted, group_members, outcome_events

pytestmark = pytest.mark.integration


@pytest.fixture
def policy_settings(tmp_path: Any) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


def with_quota(policy: Policy, code: str, quota: int) -> Policy:
    agencies = tuple(
        replace(a, quota=quota if a.code == code else a.quota) for a in policy.agencies
    )
    return replace(policy, agencies=agencies)


async def assert_capacity_counts_active_participants(pool: asyncpg.Pool) -> None:
    rows = await pool.fetch(
        "SELECT agency_code, count(*) AS n FROM participants WHERE status = 'ACTIVE'"
        " GROUP BY agency_code"
    )
    active = {f"agency:{r['agency_code']}": r["n"] for r in rows}
    used = {r["scope"]: r["used"] for r in await pool.fetch("SELECT scope, used FROM capacity")}
    assert used.pop("regency") == sum(active.values())
    assert {s: n for s, n in used.items() if n} == active


async def test_a_batch_larger_than_the_places_left_gives_them_in_batch_order(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    policy = with_quota(policy_settings.policy, "DISHUB", 3)
    payloads = workers({"DISHUB": 5}, JAN_20, seed=5)
    await register(
        PostgresUnitOfWork(pool), [record(p, topics.SUBMITTED) for p in payloads], policy, JAN_20
    )
    records = await accepted(pool)
    order = [json.loads(r.value)["submission"]["submission_id"] for r in records]
    await verify(PostgresUnitOfWork(pool), records, policy, JAN_20)
    events = {e["submission_id"]: t for t, e in await outcome_events(pool)}
    assert [events[i] for i in order] == [topics.ENROLLED] * 3 + [topics.REJECTED] * 2
    await assert_capacity_counts_active_participants(pool)


async def test_concurrent_batches_at_the_regency_ceiling_enrol_exactly_the_ceiling(
    pool: asyncpg.Pool, policy_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ceiling, batches = 5, 4
    policy = replace(policy_settings.policy, ceiling=ceiling)
    # each batch from another agency: only the regency row is shared
    payloads = workers({"DISDAG": 3, "DISHUB": 3, "BPBD": 3, "DINSOS": 3}, JAN_20, seed=9)
    await register(
        PostgresUnitOfWork(pool), [record(p, topics.SUBMITTED) for p in payloads], policy, JAN_20
    )
    by_agency: dict[str, list[Any]] = {}
    for r in await accepted(pool):
        by_agency.setdefault(json.loads(r.value)["submission"]["agency_code"], []).append(r)
    barrier = asyncio.Barrier(batches)
    original = capacity.places

    async def all_read(conn: asyncpg.Connection, agencies: list[str], lock: bool) -> Any:
        found = await original(conn, agencies, lock)
        if not lock:  # every batch has read the free places before any takes them
            await asyncio.wait_for(barrier.wait(), timeout=30)
        return found

    monkeypatch.setattr(capacity, "places", all_read)
    await asyncio.gather(
        *(verify(PostgresUnitOfWork(pool), b, policy, JAN_20) for b in by_agency.values())
    )
    monkeypatch.undo()
    events = await outcome_events(pool)
    assert sum(1 for t, _ in events if t == topics.ENROLLED) == ceiling
    rejected = [e for t, e in events if t == topics.REJECTED]
    assert len(rejected) == len(payloads) - ceiling
    assert {r["code"] for e in rejected for r in e["reasons"]} == {"QUOTA_EXCEEDED"}
    await assert_capacity_counts_active_participants(pool)


@pytest.mark.timeout(300)  # three service starts on a 2-core machine
async def test_two_verification_processes_at_the_ceiling_enrol_exactly_the_ceiling(
    settings: Settings, pool: asyncpg.Pool, processes: ServiceProcesses
) -> None:
    ceiling, count = 40, 120
    payloads = workers({"DISDAG": 40, "DISHUB": 40, "BPBD": 40}, JAN_20, seed=13)
    for _ in range(2):
        processes.start(settings, "verification", batch_size=10, JAMSOS_POLICY_CEILING=str(ceiling))
    bootstrap = settings.kafka_bootstrap or ""
    group = f"{settings.group_prefix}.verification"

    async def both_joined() -> bool:
        return await group_members(bootstrap, group) == 2

    await wait_until(both_joined, timeout=120, what="two verification processes in the group")
    async with running(settings, ["registration"]):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            sent = [
                await producer.send(
                    topics.SUBMITTED, json.dumps(p).encode(), key=p["worker"]["nik"].encode()
                )
                for p in payloads
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

        async def all_decided() -> bool:
            n = await pool.fetchval("SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'")
            return bool(n == count)

        await wait_until(all_decided, timeout=180, what="every submission decided")
    events = await outcome_events(pool)
    assert len({(e["agency_code"], e["submission_id"]) for _, e in events}) == len(events) == count
    assert sum(1 for t, _ in events if t == topics.ENROLLED) == ceiling
    assert await pool.fetchval("SELECT count(*) FROM participants") == ceiling
    await assert_capacity_counts_active_participants(pool)
