"""Races forced, not hoped for: one NIK from several agencies at once (in two registration
processes, and two transactions held at the claim), a claim let go between insert and look-up,
and verification batches contending for an agency quota."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from jamsos.adapters import capacity, inbox, nik_claims, submissions
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.settings import Settings, load_settings
from jamsos.usecases.messages import Message
from jamsos.usecases.registration import register
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.conftest import ServiceProcesses, running, wait_until, waits_for_a_lock
from tests.factory import submission
from tests.integration.billing_support import JAN_20, record, workers
from tests.integration.test_crash_recovery import cohort

pytestmark = pytest.mark.integration

AGENCIES = ["DISDAG", "DISHUB", "BPBD"]
OUTCOMES = [topics.ENROLLED, topics.DUPLICATE, topics.REJECTED, topics.REVIEW_REQUIRED]


async def outcome_events(pool: asyncpg.Pool) -> list[tuple[str, dict[str, Any]]]:
    rows = await pool.fetch(
        "SELECT topic, value FROM outbox WHERE topic = ANY($1::text[]) ORDER BY id", OUTCOMES
    )
    return [(r["topic"], json.loads(bytes(r["value"]))) for r in rows]


async def accepted(pool: asyncpg.Pool) -> list[Message]:
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = $1 ORDER BY id", topics.ACCEPTED
    )
    return [record(bytes(r["value"]), topics.ACCEPTED) for r in rows]


async def group_members(bootstrap: str, group_id: str) -> int:
    """Members of a consumer group once it is stable (0 while it rebalances)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group_id])
        [group] = response.groups
        _error, _id, state, _protocol_type, _protocol, members = group[:6]
        return len(members) if state == "Stable" else 0
    finally:
        await admin.close()


def gated(
    target: Callable[..., Awaitable[Any]], gate: Callable[[], Awaitable[None]]
) -> Callable[..., Awaitable[Any]]:
    """`target`, but each call first passes `gate`."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        await gate()
        return await target(*args, **kwargs)

    return call


def assert_one_enrolment_per_nik(events: list[tuple[str, dict[str, Any]]], niks: int) -> None:
    """Exactly one enrolment per NIK, every other submission a duplicate naming the winner,
    and one outcome per submission."""
    per_submission: dict[tuple[str, str], list[str]] = defaultdict(list)
    winners: dict[str, dict[str, Any]] = {}
    for topic, event in events:
        per_submission[(event["agency_code"], event["submission_id"])].append(topic)
        if topic == topics.ENROLLED:
            assert event["nik"] not in winners, f"{event['nik']} enrolled twice"
            winners[event["nik"]] = event
    assert all(len(t) == 1 for t in per_submission.values())
    assert len(winners) == niks
    duplicates = [event for topic, event in events if topic == topics.DUPLICATE]
    assert len(duplicates) == len(per_submission) - niks
    for duplicate in duplicates:
        winner = winners[duplicate["nik"]]
        assert duplicate["existing_agency_code"] == winner["agency_code"]
        assert duplicate["agency_code"] != winner["agency_code"]
        assert duplicate["existing_membership_no"] in (None, winner["membership_no"])


async def test_niks_from_three_agencies_on_separate_partitions_through_two_registration_processes_enrol_once(  # noqa: E501
    settings: Settings, pool: asyncpg.Pool, processes: ServiceProcesses
) -> None:
    niks = 150
    people = cohort(niks)
    # Each agency's copy of a NIK on its own partition: the copies are read by different
    # consumers (two processes share three partitions) and decided at the same time.
    messages = [
        (partition, {**p, "agency_code": agency, "submission_id": f"{agency}-R-{i:04d}"})
        for i, p in enumerate(people)
        for partition, agency in enumerate(AGENCIES)
    ]
    bootstrap = settings.kafka_bootstrap or ""
    for _ in range(2):
        processes.start(settings, "registration", batch_size=20)
    group = f"{settings.group_prefix}.registration"

    async def both_joined() -> bool:
        return await group_members(bootstrap, group) == 2

    await wait_until(both_joined, timeout=120, what="two registration processes in the group")
    async with running(settings, ["verification"]):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            sent = [
                await producer.send(
                    topics.SUBMITTED,
                    json.dumps(payload).encode(),
                    key=payload["worker"]["nik"].encode(),
                    partition=partition,
                )
                for partition, payload in messages
            ]
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

        async def all_decided() -> bool:
            n = await pool.fetchval("SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'")
            return bool(n == len(messages))

        await wait_until(all_decided, timeout=180, what="every submission decided")
    assert_one_enrolment_per_nik(await outcome_events(pool), niks)
    assert await pool.fetchval("SELECT count(*) FROM participants") == niks
    assert await pool.fetchval("SELECT count(*) FROM nik_claims") == niks


@pytest.fixture
def policy_settings(tmp_path: Any) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


async def test_two_transactions_claiming_one_nik_at_once_accept_one_and_name_it(
    pool: asyncpg.Pool, policy_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both transactions have stored their submission and are held until both reach the claim:
    # then they insert the same NIK at the same moment.
    barrier = asyncio.Barrier(2)

    async def both_at_the_claim() -> None:
        await asyncio.wait_for(barrier.wait(), timeout=30)

    monkeypatch.setattr(nik_claims, "claim_niks", gated(nik_claims.claim_niks, both_at_the_claim))
    copies = [
        submission(agency_code=agency, submission_id=f"{agency}-1")
        for agency in ("DISDAG", "DISHUB")
    ]
    await asyncio.gather(
        *(
            register(
                PostgresUnitOfWork(pool),
                [record(c, topics.SUBMITTED)],
                policy_settings.policy,
                JAN_20,
            )
            for c in copies
        )
    )
    monkeypatch.undo()
    [won] = await accepted(pool)
    await verify(PostgresUnitOfWork(pool), [won], policy_settings.policy, JAN_20)
    assert_one_enrolment_per_nik(await outcome_events(pool), 1)
    [(_, duplicate)] = [e for e in await outcome_events(pool) if e[0] == topics.DUPLICATE]
    assert duplicate["existing_membership_no"] is None  # the winner was still in flight


async def test_claim_released_between_insert_and_lookup_is_claimed_again(
    pool: asyncpg.Pool, policy_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = submission()
    await register(
        PostgresUnitOfWork(pool), [record(first, topics.SUBMITTED)], policy_settings.policy, JAN_20
    )
    [held] = await accepted(pool)  # DISDAG holds the NIK, still in verification
    full = replace(policy_settings.policy, ceiling=0)  # verification will reject it
    calls: list[str] = []
    original_claim, original_holders = nik_claims.claim_niks, nik_claims.claim_holders

    async def claim(*args: Any) -> Any:
        calls.append("claim")
        return await original_claim(*args)

    async def holders(*args: Any) -> Any:
        calls.append("holders")
        if calls.count("holders") == 1:
            # DISHUB's insert found DISDAG's claim; before it looks the holder up, DISDAG's
            # rejection commits (another transaction) and lets go of the NIK.
            summary = await verify(PostgresUnitOfWork(pool), [held], full, JAN_20)
            assert summary.counts == {"REJECTED": 1, "DLQ": 0}
        return await original_holders(*args)

    monkeypatch.setattr(nik_claims, "claim_niks", claim)
    monkeypatch.setattr(nik_claims, "claim_holders", holders)
    second = submission(agency_code="DISHUB", submission_id="DISHUB-1")
    summary = await register(
        PostgresUnitOfWork(pool), [record(second, topics.SUBMITTED)], policy_settings.policy, JAN_20
    )
    monkeypatch.undo()
    assert calls == ["claim", "holders", "claim", "holders"]  # the retry ran
    assert summary.counts == {"ACCEPTED": 1, "DLQ": 0}
    claim_row = await pool.fetchrow("SELECT agency_code, submission_id FROM nik_claims")
    assert claim_row is not None and tuple(claim_row) == ("DISHUB", "DISHUB-1")
    assert [t for t, _ in await outcome_events(pool)] == [topics.REJECTED]


async def test_concurrent_verification_batches_against_an_agency_quota_enrol_exactly_quota(
    pool: asyncpg.Pool, policy_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    quota, batches = 3, 4
    agencies = tuple(
        replace(a, quota=quota if a.code == "DISHUB" else a.quota)
        for a in policy_settings.policy.agencies
    )
    policy = replace(policy_settings.policy, agencies=agencies)
    payloads = workers({"DISHUB": batches * quota}, JAN_20, seed=3)
    await register(
        PostgresUnitOfWork(pool), [record(p, topics.SUBMITTED) for p in payloads], policy, JAN_20
    )
    records = await accepted(pool)
    assert len(records) == len(payloads)
    # Every batch's transaction is open and has read the places used (none) before any goes
    # on: each believes its three fit, and they meet at the conditional update.
    barrier = asyncio.Barrier(batches)
    original = capacity.places

    async def all_read(conn: asyncpg.Connection, agencies: list[str], lock: bool) -> Any:
        found = await original(conn, agencies, lock)
        if not lock:  # the first, unlocked read of each batch (not the exact re-decision)
            await asyncio.wait_for(barrier.wait(), timeout=30)
        return found

    monkeypatch.setattr(capacity, "places", all_read)
    await asyncio.gather(
        *(
            verify(PostgresUnitOfWork(pool), records[i::batches], policy, JAN_20)
            for i in range(batches)
        )
    )
    monkeypatch.undo()
    events = await outcome_events(pool)
    assert sum(1 for t, _ in events if t == topics.ENROLLED) == quota
    rejected = [e for t, e in events if t == topics.REJECTED]
    assert len(rejected) == len(payloads) - quota
    assert {r["code"] for e in rejected for r in e["reasons"]} == {"QUOTA_EXCEEDED"}
    assert await pool.fetchval("SELECT count(*) FROM participants") == quota
    used = await pool.fetchval("SELECT used FROM capacity WHERE scope = 'agency:DISHUB'")
    assert used == quota


Lock = Callable[[asyncpg.Connection, list[Any]], Awaitable[Any]]


async def overlapping(pool: asyncpg.Pool, lock: Lock, first: Any, middle: Any, last: Any) -> Any:
    """What `lock` (one statement, each call in its own transaction) gives two batches that
    overlap in another order, forced: a third transaction holds `last` while the first batch
    (first, last, middle) waits for it and the second (middle, first) queues behind. Locked in
    key order the second waits for the first; in each batch's own order the two deadlock
    (one result is then DeadlockDetectedError)."""
    async with pool.acquire() as holder, pool.acquire() as one, pool.acquire() as two:
        held = holder.transaction()
        await held.start()
        await lock(holder, [last])

        async def batch(conn: asyncpg.Connection, keys: list[Any]) -> Any:
            async with conn.transaction():
                return await lock(conn, keys)

        tasks = [asyncio.create_task(batch(one, [first, last, middle]))]
        try:
            first_pid, second_pid = one.get_server_pid(), two.get_server_pid()
            await wait_until(lambda: waits_for_a_lock(pool, first_pid), 30, "the first to wait")
            tasks.append(asyncio.create_task(batch(two, [middle, first])))
            await wait_until(lambda: waits_for_a_lock(pool, second_pid), 30, "the second to wait")
            await held.rollback()
            return await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 30)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_overlapping_batches_lock_their_pending_submissions_in_one_order(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    """A batch redelivered to a second verification instance (a rebalance) overlaps the first
    one's in another order (its partitions merged in another order): its pending submissions
    are locked in key order, so it waits for the first instead of deadlocking."""
    payloads = workers({"DISHUB": 3}, JAN_20, seed=5)
    await register(
        PostgresUnitOfWork(pool),
        [record(p, topics.SUBMITTED) for p in payloads],
        policy_settings.policy,
        JAN_20,
    )
    # the table of a real backlog, analysed: the planner looks the batch's keys up in the
    # primary key one by one, in the batch's order (three rows alone would be read in the
    # order they came in, the same for every batch)
    await pool.execute(
        "INSERT INTO submissions (agency_code, submission_id, content_hash, payload,"
        " received_at, status)"
        " SELECT 'BPBD', 'BACKLOG-' || n, '', '{}', now(), 'RECEIVED'"
        " FROM generate_series(1, 20000) AS n"
    )
    await pool.execute("ANALYZE submissions")
    plan = await pool.fetchval(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM submissions s"
        " JOIN unnest($1::text[], $2::text[]) AS t(a, i)"
        " ON s.agency_code = t.a AND s.submission_id = t.i",
        ["DISHUB"] * 3,
        ["a", "b", "c"],
    )
    assert "submissions_pkey" in json.dumps(plan)  # keys looked up one by one (the test can fail)
    first, middle, last = sorted((p["agency_code"], p["submission_id"]) for p in payloads)
    found = await overlapping(pool, submissions.pending, first, middle, last)
    assert list(found) == [{first, middle, last}, {first, middle}]  # no DeadlockDetectedError


async def test_overlapping_batches_claim_their_inbox_ids_in_one_order(pool: asyncpg.Pool) -> None:
    """The same for the generic inbox (a redelivered termination batch claims its request ids
    before it locks participants): each claim waits for the other's ids, in id order."""

    async def claim(conn: asyncpg.Connection, ids: list[str]) -> set[str]:
        return await inbox.claim(conn, "termination", {i: "h" for i in ids}, JAN_20)

    found = await overlapping(pool, claim, "a", "b", "c")
    assert list(found) == [{"a", "b", "c"}, set()]  # the second finds them claimed
