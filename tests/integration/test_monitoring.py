"""Each service process serves /health and /metrics; `jamsos ops health` finds and probes them.

Real broker and database; the HTTP server listens on a port the OS chooses.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from jamsos.adapters import db
from jamsos.adapters.http import HttpServer, bind, get_json
from jamsos.adapters.kafka import make_broker
from jamsos.settings import Settings
from jamsos.workers.monitor import Monitor
from jamsos.workers.runtime import Runtime
from jamsos_schemas import topics
from tests.conftest import clean_env, read_topic, running, wait_until
from tests.factory import CONTRACT_EXAMPLE, submission

pytestmark = pytest.mark.integration

ALL = ["registration", "verification", "billing"]
FAMILIES = {
    "jamsos_messages_consumed",
    "jamsos_outcomes",
    "jamsos_rejection_reasons",
    "jamsos_dead_letters",
    "jamsos_batch_duration_seconds",
    "jamsos_outbox_pending",
    "jamsos_consumer_lag",
}
GROUPS = ("registration", "verification", "review", "termination", "billing-ledger", "billing-run")
OUTCOME_TOPICS = {
    topics.ENROLLED: "enrolled",
    topics.DUPLICATE: "duplicate",
    topics.REJECTED: "rejected",
    topics.REVIEW_REQUIRED: "review_required",
}
FIRST_WAVE: list[Any] = [
    CONTRACT_EXAMPLE,
    submission(  # another worker: enrolled
        submission_id="DISDAG-2",
        worker__nik="3319011203850002",
        worker__full_name="Budi Santoso",
        worker__birth_date="1985-03-12",
        worker__sex="M",
    ),
    submission(agency_code="DISHUB", submission_id="DISHUB-1"),  # Siti's NIK again: duplicate
    submission(agency_code="NOPE", submission_id="NOPE-1"),  # rejected by registration
    submission(  # rejected by verification: not a village of Kudus
        submission_id="DISDAG-3",
        worker__nik="3319016708800003",
        worker__full_name="Sri Wahyuni",
        worker__birth_date="1980-08-27",
        worker__address={"village_code": "9999999999", "street": "Jl. Lain"},
    ),
    b"not json at all",  # dead letter
]
# Siti again under a mistyped NIK, once she is enrolled: held for review
LOOKALIKE = submission(
    agency_code="DISHUB",
    submission_id="DISHUB-9",
    worker__nik="3319014506900007",
    worker__full_name="SITI AMINAH",
)


def _bytes(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


async def publish(bootstrap: str, payloads: list[Any]) -> None:
    """One record per send (so offsets count records), keyed by NIK as agencies do."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for p in payloads:
            key = p["worker"]["nik"].encode() if isinstance(p, dict) else None
            await producer.send_and_wait(topics.SUBMITTED, _bytes(p), key=key)
    finally:
        await producer.stop()


async def committed(bootstrap: str, group: str, topic: str) -> int:
    """How many records of `topic` the group has committed (offsets start at 0)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum([await consumer.committed(tp) or 0 for tp in parts])
    finally:
        await consumer.stop()


def _get_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body.decode()


async def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """/metrics parsed by prometheus-client's own parser: value per (sample, labels)."""
    text = await asyncio.to_thread(_get_text, f"http://127.0.0.1:{port}/metrics")
    families = list(text_string_to_metric_families(text))
    assert {f.name for f in families} >= FAMILIES
    return {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}


def _by(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, *labels: str
) -> Counter[tuple[str, ...]]:
    """Sample values of `name` summed by the given labels."""
    counts: Counter[tuple[str, ...]] = Counter()
    for (sample, pairs), value in samples.items():
        if sample == name and value:
            d = dict(pairs)
            counts[tuple(d[label] for label in labels)] += int(value)
    return counts


async def kafka_outcomes(bootstrap: str) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for topic, outcome in OUTCOME_TOPICS.items():
        for event in await read_topic(bootstrap, topic):
            counts[(outcome, event["agency_code"])] += 1
    return counts


async def test_metrics_outcome_counts_equal_the_outcome_events_on_kafka_and_a_redelivery_adds_none(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    bootstrap = settings.kafka_bootstrap
    assert bootstrap is not None
    group = f"{settings.group_prefix}.registration"
    settings = replace(settings, monitor_interval_seconds=0.5)
    async with running(settings, ALL, http_port=0) as runtime:
        assert runtime.http_port is not None
        port = runtime.http_port

        async def drained(n: int) -> bool:
            done = await committed(bootstrap, group, topics.SUBMITTED) == n
            pending = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            return done and pending == 0

        await publish(bootstrap, FIRST_WAVE)
        enrolled = await wait_until(lambda: read_topic(bootstrap, topics.ENROLLED), what="enrolled")
        await publish(bootstrap, [LOOKALIKE])
        await wait_until(lambda: read_topic(bootstrap, topics.REVIEW_REQUIRED), what="review")
        await wait_until(lambda: drained(len(FIRST_WAVE) + 1), what="every submission decided")
        expected = await kafka_outcomes(bootstrap)
        assert sum(expected.values()) == 6 and len(enrolled) >= 1
        assert Counter(o for o, _ in expected.elements()) == {
            "enrolled": 2,
            "duplicate": 1,
            "rejected": 2,
            "review_required": 1,
        }
        samples = await scrape(port)
        assert _by(samples, "jamsos_outcomes_total", "outcome", "agency_code") == expected

        # the same submissions once more, as a producer retry or a redelivery brings them
        again = [p for p in [*FIRST_WAVE, LOOKALIKE] if isinstance(p, dict)]
        await publish(bootstrap, again)
        await wait_until(lambda: drained(len(FIRST_WAVE) + 1 + len(again)), what="repeats seen")

        async def caught_up() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
            samples = await scrape(port)
            lag = _by(samples, "jamsos_consumer_lag", "group", "topic", "partition")
            rows = [k for k in samples if k[0] == "jamsos_consumer_lag"]
            mine = [r for r in rows if dict(r[1])["group"] == group]
            # every record of submitted is committed: the gauge reads 0 on its 3 partitions
            idle = samples[("jamsos_outbox_pending", frozenset())] == 0
            return samples if len(mine) == 3 and not any(lag.values()) and idle else None

        samples = await wait_until(caught_up, what="the lag gauge to read 0")

    assert _by(samples, "jamsos_outcomes_total", "outcome", "agency_code") == expected
    assert await kafka_outcomes(bootstrap) == expected
    consumed = _by(samples, "jamsos_messages_consumed_total", "topic")
    assert consumed[(topics.SUBMITTED,)] == len(FIRST_WAVE) + 1 + len(again)
    reasons: Counter[tuple[str, ...]] = Counter()
    for event in await read_topic(bootstrap, topics.REJECTED):
        reasons.update((r["code"],) for r in event["reasons"])
    assert _by(samples, "jamsos_rejection_reasons_total", "code") == reasons
    letters = Counter((e["error"].split(":")[0],) for e in await read_topic(bootstrap, topics.DLQ))
    assert _by(samples, "jamsos_dead_letters_total", "error") == letters
    lag_groups = {dict(k[1])["group"] for k in samples if k[0] == "jamsos_consumer_lag"}
    assert lag_groups == {f"{settings.group_prefix}.{g}" for g in GROUPS}
    batches = _by(samples, "jamsos_batch_duration_seconds_count", "consumer")
    assert batches[("registration",)] >= 2 and batches[("verification",)] >= 1


async def test_health_is_200_with_every_check_then_503_naming_the_database_once_it_is_gone(
    settings: Settings, pg_admin_dsn: str
) -> None:
    name = settings.database_url.rsplit("/", 1)[1] if settings.database_url else ""
    async with running(settings, ALL, http_port=0) as runtime:
        url = f"http://127.0.0.1:{runtime.http_port}/health"
        status, body = await get_json(url)
        assert status == 200, body
        assert body["status"] == "ok"
        assert {n: c["status"] for n, c in body["checks"].items()} == {
            "database": "ok",
            "broker": "ok",
            "consumers": "ok",
            "processing": "ok",
        }

        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        status, body = await get_json(url)

    assert status == 503, body
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "unhealthy"
    assert body["checks"]["broker"]["status"] == "ok"


class HeldClose:
    """A TCP proxy to PostgreSQL that forwards every byte, but when the server closes a
    connection keeps the client's side open: the moment between a backend's FATAL error
    (`pg_terminate_backend`, `DROP DATABASE ... WITH (FORCE)`, a server shutdown) and the end
    of its socket, which asyncpg reads one event-loop iteration apart, held for as long as the
    test needs."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._clients: list[asyncio.StreamWriter] = []
        self._pumps: set[asyncio.Task[None]] = set()
        self.server_closed = 0  # connections whose server side has ended

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.append(writer)
        up_reader, up_writer = await asyncio.open_connection(*self._target)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            if up:
                dst.close()  # the client went: so does the server's side
            else:
                self.server_closed += 1  # the client's side stays open

        for args in ((reader, up_writer, True), (up_reader, writer, False)):
            task = asyncio.create_task(pump(*args))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def close(self) -> None:
        for writer in self._clients:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)


async def test_a_connection_the_server_ended_while_idle_fails_the_checks_and_the_heartbeat(
    settings: Settings,
) -> None:
    """A pooled connection whose backend was terminated while idle: asyncpg has read the FATAL
    error but not yet the end of the socket, and refuses the next query with InternalClientError
    ("cannot switch to state 12; another operation (2) is in progress"). The refresh (heartbeat
    and outbox gauges) records the database as unreachable and goes on ticking, and /health
    says 503 naming the database; neither raises."""
    direct = settings.database_url
    assert direct is not None
    parts = urlsplit(direct)
    proxy = HeldClose(parts.hostname or "127.0.0.1", parts.port or 5432)
    user = parts.netloc.rpartition("@")[0]
    at = f"{user}@" if user else ""
    proxied = urlunsplit(parts._replace(netloc=f"{at}127.0.0.1:{await proxy.start()}"))
    # one connection, so that the checks and the refresh get the one whose backend is gone;
    # a timer that ticks once, at start (refresh is called here)
    settings = replace(settings, database_url=proxied, monitor_interval_seconds=3600.0)
    runtime = Runtime(settings)
    runtime.open(await db.create_pool(proxied, min_size=1, max_size=1))
    broker = make_broker(settings, "jamsos-test-monitor")
    monitor = Monitor(
        runtime, broker, ["registration"], lambda a: HttpServer(a, bind("127.0.0.1", 0))
    )
    other = await asyncpg.connect(direct)  # not through the proxy
    try:
        await monitor.start()
        assert (await monitor.checks())["database"]["status"] == "ok"

        async def first_tick_done() -> bool:
            beaten = await other.fetchval(
                "SELECT bool_and(heartbeat_at > started_at) FROM service_processes"
            )
            return bool(beaten) and runtime.pool.get_idle_size() == 1

        await wait_until(first_tick_done, what="the timer's first refresh")

        async def end_the_backend() -> None:
            """End the pool's backend; its FATAL error reaches the pool, its end does not."""
            async with runtime.pool.acquire() as conn:  # connected (again), and idle
                await conn.fetchval("SELECT 1")
            ended = proxy.server_closed
            killed = await other.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert killed == 1
            await wait_until(lambda: _true(proxy.server_closed > ended), what="the backend's end")

        await end_the_backend()
        await monitor.refresh()  # raised InternalClientError (and so ended the timer's task)
        assert "database unreachable" in runtime.conditions.troubles["heartbeat"]
        await monitor.refresh()  # the pool dropped that connection: the next tick recovers
        assert "heartbeat" not in runtime.conditions.troubles

        await end_the_backend()
        status, body = await get_json(f"http://127.0.0.1:{monitor.port}/health")
        assert status == 503, body  # was 500: the check raised
        assert body["checks"]["database"]["status"] == "unhealthy", body
        assert body["checks"]["broker"]["status"] == "ok", body
        assert (await monitor.checks())["database"]["status"] == "ok"
    finally:
        await proxy.close()  # the client sees the end: the pool connects afresh
        await monitor.stop()
        await runtime.close()
        await other.close()


async def _true(value: bool) -> bool:
    return value


async def ops_health(settings: Settings, cwd: Path) -> tuple[int, dict[str, Any]]:
    """`jamsos ops health --json` as a subprocess (without blocking the loop serving HTTP)."""
    env = clean_env(
        JAMSOS_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
        JAMSOS_DATABASE_URL=settings.database_url or "",
        JAMSOS_STATE_DIR=str(cwd / "state"),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jamsos",
        "ops",
        "health",
        "--json",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    assert out, err.decode()
    document: dict[str, Any] = json.loads(out)  # nothing but the document on stdout
    return proc.returncode, document


async def test_ops_health_json_checks_broker_database_and_each_service_and_exits_1_on_a_dead_one(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path, refused_port: Callable[[], int]
) -> None:
    async with running(settings, ALL, http_port=0) as runtime:
        code, report = await ops_health(settings, tmp_path)
        assert code == 0, report
        service = f"registration+verification+billing@{socket.gethostname()}:{runtime.http_port}"
        assert report["status"] == "ok"
        assert set(report["checks"]) == {"broker", "database", service}
        for check in report["checks"].values():
            assert set(check) == {"status", "detail"} and check["status"] == "ok"

        # a process killed without a clean stop: its row stays, nothing listens on its port
        host = socket.gethostname()
        dead, stale = refused_port(), refused_port()
        await pool.execute(
            "INSERT INTO service_processes (id, host, http_port, services, pid, heartbeat_at)"
            " VALUES ($1, $2, $3, '{billing}', 1, now()),"
            " ($4, $2, $5, '{billing}', 2, now() - interval '2 minutes')",
            uuid.uuid4(),
            host,
            dead,
            uuid.uuid4(),
            stale,
        )
        code, report = await ops_health(settings, tmp_path)

    assert code == 1, report
    assert report["status"] == "unhealthy"
    checks = report["checks"]
    assert checks[service]["status"] == "ok"
    assert checks[f"billing@{host}:{dead}"]["status"] == "unhealthy"
    assert "no heartbeat" in checks[f"billing@{host}:{stale}"]["detail"]
    assert await pool.fetchval("SELECT count(*) FROM service_processes") == 2  # ours is gone


def test_run_with_its_http_port_taken_exits_with_one_line_naming_jamsos_http_port(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = clean_env(
            # the port is bound before the database is contacted
            JAMSOS_KAFKA_BOOTSTRAP=kafka_bootstrap,
            JAMSOS_DATABASE_URL="postgresql://postgres@127.0.0.1:1/none",
            JAMSOS_STATE_DIR=str(tmp_path / "state"),
            JAMSOS_HTTP_PORT=str(port),
        )
        result = subprocess.run(
            [sys.executable, "-m", "jamsos", "run", "registration"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    [line] = output.strip().splitlines()
    assert f"JAMSOS_HTTP_PORT={port}" in line
