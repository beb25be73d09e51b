"""A drifted capacity counter (migration 0010) on real PostgreSQL: `jamsos reconcile` reports it
and exits 1, `jamsos ops capacity recount` (as the operator's role) repairs and audits it, and a
recount next to a termination holding the rows' locks counts after it, never before."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jamsos.adapters import capacity, db
from jamsos.settings import Settings, load_settings
from tests.conftest import wait_until, waits_for_a_lock
from tests.integration.billing_support import JAN_20, cli, enrol, feed_ledger, workers
from tests.integration.roles_support import role_urls

__all__ = ["role_urls"]  # the fixture

pytestmark = pytest.mark.integration

COHORT = {"DISDAG": 3, "DISHUB": 2, "DINSOS": 2}
TRUTH = {"regency": 7, "agency:DISDAG": 3, "agency:DISHUB": 2, "agency:DINSOS": 2}


@pytest.fixture
async def enrolled(pool: asyncpg.Pool, database_url: str, tmp_path: Path) -> Settings:
    """Seven participants enrolled through the use cases (no broker); the owner's settings."""
    settings = replace(
        load_settings(env={}, cwd=tmp_path), database_url=database_url, state_dir=tmp_path
    )
    async with pool.acquire() as conn:
        await db.sync_agencies(conn, settings.policy.agencies)  # as every service does
    await enrol(pool, settings, workers(COHORT, JAN_20), JAN_20)
    await feed_ledger(pool, JAN_20)  # so that reconcile finds nothing else
    return settings


async def counters(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT scope, used FROM capacity WHERE used <> 0")
    return {r["scope"]: r["used"] for r in rows}


async def capacity_mismatches(settings: Settings) -> tuple[int, list[dict[str, Any]]]:
    result = await cli(settings, "reconcile", "--json")
    found = json.loads(result.stdout)["mismatches"]
    return result.exit_code, [m for m in found if m["scope"].startswith("capacity ")]


async def test_a_drifted_counter_is_reported_then_recounted_by_the_operator_and_audited(
    pool: asyncpg.Pool, enrolled: Settings, role_urls: dict[str, str]
) -> None:
    assert await counters(pool) == TRUTH
    assert await capacity_mismatches(enrolled) == (0, [])
    # a manual edit, a bug, a restore: one agency over, the ceiling under, a row gone
    await pool.execute("UPDATE capacity SET used = used + 2 WHERE scope = 'agency:DISDAG'")
    await pool.execute("UPDATE capacity SET used = used - 1 WHERE scope = 'regency'")
    await pool.execute("DELETE FROM capacity WHERE scope = 'agency:DINSOS'")

    code, found = await capacity_mismatches(enrolled)
    assert code == 1
    assert found == [
        {"scope": "capacity regency", "check": "places used = active participants",
         "expected": 7, "actual": 6},
        {"scope": "capacity agency:DISDAG", "check": "places used = active participants",
         "expected": 3, "actual": 5},
        {"scope": "capacity agency:DINSOS", "check": "the scope has a capacity row",
         "expected": 1, "actual": 0},
    ]  # fmt: skip

    operator = replace(enrolled, database_url=role_urls["operator"], actor="siti")
    result = await cli(operator, "ops", "capacity", "recount", "--json")
    assert result.exit_code == 0, result.output
    changed = [
        {"scope": "regency", "before": 6, "after": 7},
        {"scope": "agency:DISDAG", "before": 5, "after": 3},
        {"scope": "agency:DINSOS", "before": None, "after": 2},
    ]
    assert json.loads(result.stdout) == {"changed": changed}
    assert await counters(pool) == TRUTH
    audit = await pool.fetch("SELECT actor, action, subject, detail FROM audit_log")
    assert [(r["actor"], r["action"], r["subject"], r["detail"]) for r in audit] == [
        ("siti", "capacity.recount", "capacity", {"changes": changed})
    ]
    assert await capacity_mismatches(enrolled) == (0, [])

    again = await cli(operator, "ops", "capacity", "recount")
    assert again.exit_code == 0 and "nothing changed" in again.output, again.output
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_only_the_operator_may_recount_and_nobody_may_write_the_counters_by_hand(
    pool: asyncpg.Pool, enrolled: Settings, role_urls: dict[str, str]
) -> None:
    for role, url in role_urls.items():
        conn = await asyncpg.connect(url)
        try:
            if role == "operator":
                assert await capacity.recount(conn) == []
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute("UPDATE capacity SET used = 0")
            else:
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await capacity.recount(conn)
        finally:
            await conn.close()


async def test_a_recount_waits_for_a_termination_holding_the_rows_and_counts_after_it(
    pool: asyncpg.Pool, enrolled: Settings, role_urls: dict[str, str]
) -> None:
    # a drift on the very row a termination is about to lock and free a place from
    await pool.execute("UPDATE capacity SET used = 9 WHERE scope = 'agency:DISDAG'")
    nik = await pool.fetchval(
        "SELECT nik FROM participants WHERE agency_code = 'DISDAG' ORDER BY nik LIMIT 1"
    )
    termination = await asyncpg.connect(enrolled.database_url)
    operator = await asyncpg.connect(role_urls["operator"])
    try:
        # what usecases/termination.py does in one transaction: the participant, then its place
        # (capacity.use: lock the rows, then update them; the recount comes in between)
        tx = termination.transaction()
        await tx.start()
        await termination.execute(
            "UPDATE participants SET status = 'TERMINATED' WHERE nik = $1", nik
        )
        await termination.execute(
            "SELECT 1 FROM capacity WHERE scope = ANY($1::text[])"
            ' ORDER BY scope COLLATE "C" DESC FOR UPDATE',
            ["regency", "agency:DISDAG"],
        )
        pid = operator.get_server_pid()

        async def recount() -> Any:
            async with operator.transaction():
                return await capacity.recount(operator)

        recounting = asyncio.create_task(recount())

        await wait_until(
            lambda: waits_for_a_lock(pool, pid),
            timeout=20,
            what="the recount to wait for the row locks",
        )
        assert await capacity.use(termination, {"DISDAG": -1}, {}, None)
        await tx.commit()
        changes = await asyncio.wait_for(recounting, 20)
    finally:
        await termination.close()
        await operator.close()
    # counted after the termination (9 - 1 → 2 active): its -1 is neither lost nor counted
    # twice (counting before the lock, 3 would overwrite the 8 the termination left)
    assert [(c.scope, c.before, c.after) for c in changes] == [("agency:DISDAG", 8, 2)]
    assert await counters(pool) == {**TRUTH, "regency": 6, "agency:DISDAG": 2}


async def test_the_operator_cannot_make_the_recount_count_its_own_temporary_participants(
    pool: asyncpg.Pool, enrolled: Settings, role_urls: dict[str, str]
) -> None:
    """capacity_recount() runs with the owner's rights: a session's temporary `participants`
    (pg_temp is searched first unless the function's search_path names it last) must not stand
    in for the real table, or the operator could set the counters to any number."""
    operator = await asyncpg.connect(role_urls["operator"])
    try:
        await operator.execute(
            "CREATE TEMP TABLE participants AS SELECT 'ACTIVE'::text AS status,"
            " 'DISDAG'::text AS agency_code FROM generate_series(1, 26000)"
        )
        async with operator.transaction():
            await capacity.recount(operator)
    finally:
        await operator.close()
    used = await pool.fetchval("SELECT used FROM capacity WHERE scope = 'regency'")
    assert used == TRUTH["regency"]  # with the search_path shadowed: 26000, the ceiling full
