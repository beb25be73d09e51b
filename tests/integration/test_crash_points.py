"""A service process that crashes (os._exit, via JAMSOS_FAULT) at any step boundary of a
handler or of the relay, restarted, ends where a run without a crash ends: every submission
one outcome with one event_id, every worker enrolled once, one coverage period each."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest

from jamsos.faults import EXIT_CODE
from jamsos.publishing import publish_submissions
from jamsos.settings import Settings
from jamsos_schemas import topics
from tests.conftest import read_topic, wait_until
from tests.integration.test_crash_recovery import cohort
from tests.integration.test_outages import service

pytestmark = pytest.mark.integration

COUNT = 200
POINTS = [
    None,  # the run without a crash
    "consume.mid-batch@registration",
    "consume.after-commit@registration",
    "consume.mid-batch@verification",
    "consume.after-commit@verification",
    "consume.mid-batch@billing-ledger",
    "consume.after-commit@billing-ledger:2",
    "relay.before-publish:2",
    "relay.after-publish:2",
    "relay.after-mark:2",
]


@pytest.mark.timeout(300)  # two service starts (group joins) and a 2-core machine
@pytest.mark.parametrize("fault", POINTS, ids=lambda p: p or "no-crash")
async def test_crash_at_a_step_boundary_then_restart_ends_as_a_run_without_crash(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path, fault: str | None
) -> None:
    payloads = cohort(COUNT)
    await publish_submissions(settings, payloads)

    async def finished() -> bool:
        coverage = await pool.fetchval("SELECT count(*) FROM coverage")
        unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        return bool(coverage == COUNT and unpublished == 0)

    if fault is not None:
        # No /health for the run that crashes: waiting for its "serving" line raced the crash
        # (a first batch can commit, and the process end, before the monitor logs it).
        crashing = tmp_path / "crashing.log"
        async with service(settings, crashing, http=False, JAMSOS_FAULT=fault) as (proc, _):

            async def crashed() -> bool:
                return proc.poll() is not None

            await wait_until(crashed, timeout=60, what=f"the crash at {fault}")
            assert proc.returncode == EXIT_CODE, crashing.read_text()
        assert not await finished(), "the crash came after everything: nothing was tested"
    async with service(settings, tmp_path / "restarted.log") as (proc, _):
        await wait_until(finished, timeout=90, what="every outcome after the restart")
        assert proc.poll() is None

    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for topic in (topics.ENROLLED, topics.REJECTED, topics.DUPLICATE, topics.REVIEW_REQUIRED):
        for event in await read_topic(settings.kafka_bootstrap or "", topic):
            outcomes[(event["agency_code"], event["submission_id"])].add(event["event_id"])
    assert set(outcomes) == {(p["agency_code"], p["submission_id"]) for p in payloads}
    assert all(len(ids) == 1 for ids in outcomes.values())
    enrolled = {i for (_, _), ids in outcomes.items() for i in ids}
    stored = await pool.fetch("SELECT event_id FROM outbox WHERE topic = $1", topics.ENROLLED)
    assert enrolled == {str(r["event_id"]) for r in stored}
    assert await pool.fetchval("SELECT count(DISTINCT membership_no) FROM participants") == COUNT
    assert await pool.fetchval("SELECT count(*) FROM participants") == COUNT
    assert await pool.fetchval("SELECT count(DISTINCT membership_no) FROM coverage") == COUNT
