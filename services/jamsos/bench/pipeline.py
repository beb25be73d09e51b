"""The pipeline benchmark: the broker's own round trip, then the bulk feed through the three
services run as `jamsos run` processes, on the same broker and database in one run."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import random
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jamsos import billing_requests, bootstrap, synthetic
from jamsos.adapters import bench, db
from jamsos.domain.coverage import coverage_start
from jamsos.domain.period import Period
from jamsos.publishing import publish_raw, submission_key
from jamsos.settings import Settings, child_environment
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics

AGENCIES = ("DISDAG", "DISHUB", "BPBD", "DINSOS", "DISNAKERPERINKOP", "DISPERTANPANGAN")
SERVICES = ("registration", "verification", "billing")
CHUNK = 2_000  # submissions stamped and sent together (their `submitted_at` is the send time)


@dataclass
class Feed:
    """The bulk feed: payloads in publishing order (a redelivery is the same payload again,
    sent as the same bytes) and how many of each kind it holds."""

    order: list[int]
    payloads: list[dict[str, Any]]
    mix: dict[str, int]

    @property
    def submissions(self) -> int:
        return len(self.payloads)


def _nik_region(i: int) -> str:
    """A non-zero province/regency/district prefix, so that NIKs stay unique at any N."""
    block = i // 9999
    return f"33{19 + block // 99:02d}{1 + block % 99:02d}"


def feed(n: int, seed: int = 11) -> Feed:
    """N messages: 80% valid, 10% the same NIK from another agency, 5% redeliveries of an
    earlier message, 5% invalid (NIK serial 0000, under age, or living outside Kudus)."""
    rng = random.Random(seed)
    today = jakarta_now().date()
    duplicates, redeliveries = n // 10, n // 20
    invalid = n // 20
    valid = n - duplicates - redeliveries - invalid
    placeholder = dt.datetime(2000, 1, 1)  # replaced by the send time
    payloads: list[dict[str, Any]] = []
    for i in range(valid + invalid):
        person = synthetic.worker(rng, i, today, age=16 if i >= valid and i % 3 == 1 else None)
        birth = dt.date.fromisoformat(person["birth_date"])
        if i >= valid and i % 3 == 0:  # serial 0000, under a region prefix of its own
            k = i - valid
            region = f"{34 + k // 9801:02d}{1 + (k // 99) % 99:02d}{1 + k % 99:02d}"
            person["nik"] = synthetic.nik_for(birth, person["sex"], 0, region)
        else:
            person["nik"] = synthetic.nik_for(birth, person["sex"], 1 + i % 9999, _nik_region(i))
        if i >= valid and i % 3 == 2:
            person["address"] = {"village_code": "3374011001", "street": "Semarang"}
        agency = AGENCIES[i % len(AGENCIES)]
        payloads.append(synthetic.submission(agency, f"BENCH-{i:07d}", person, placeholder))
    for j in range(duplicates):  # another agency proposes the same worker
        original = payloads[j * valid // duplicates]
        other = AGENCIES[(AGENCIES.index(original["agency_code"]) + 1) % len(AGENCIES)]
        payloads.append(
            synthetic.submission(other, f"BENCH-DUP-{j:07d}", original["worker"], placeholder)
        )
    order = list(range(len(payloads)))
    rng.shuffle(order)
    # Each redelivery is a message of the feed's first half sent again somewhere after it.
    placed = [(float(p), index) for p, index in enumerate(order)]
    half = len(order) // 2
    for j in range(redeliveries):
        p = j * half // redeliveries
        placed.append((rng.uniform(p + 0.5, len(order)), order[p]))
    order = [index for _, index in sorted(placed)]
    mix = {
        "valid": valid,
        "duplicates": duplicates,
        "redeliveries": redeliveries,
        "invalid": invalid,
    }
    return Feed(order, payloads, mix)


def _messages(f: Feed, stamp: bool) -> Iterator[list[tuple[bytes | None, bytes]]]:
    """The feed as (key, value) chunks; with `stamp`, each chunk's `submitted_at` is set to
    the moment it is serialised, i.e. just before it is sent. A redelivery re-sends the
    bytes its first delivery had."""
    sent: dict[int, bytes] = {}
    for start in range(0, len(f.order), CHUNK):
        now = jakarta_now().isoformat() if stamp else None
        chunk = []
        for index in f.order[start : start + CHUNK]:
            if index not in sent:
                payload = f.payloads[index]
                if now is not None:
                    payload["submitted_at"] = now
                sent[index] = json.dumps(payload).encode()
            chunk.append((submission_key(f.payloads[index]), sent[index]))
        yield chunk


def messages(f: Feed) -> Iterator[tuple[bytes | None, bytes]]:
    """The feed as (key, value) pairs, each chunk stamped as the producer reaches it."""
    return (m for chunk in _messages(f, stamp=True) for m in chunk)


async def _publish(settings: Settings, f: Feed) -> float:
    """Publish the whole feed at once, stamping as it goes; returns the seconds it took."""
    started = time.perf_counter()
    await publish_raw(settings, topics.SUBMITTED, messages(f))  # one producer
    return time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class BenchFailed(Exception):
    """A benchmark could not measure (a service did not start or exited, a deadline passed):
    the message says what happened, with the end of the service's log where there is one
    (the logs live in the benchmark's temporary directory, gone once it ends)."""


def log_tail(log: Path, lines: int = 15) -> str:
    """The last lines of a service's log, indented."""
    try:
        text = log.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return "  (no log)"
    return "\n".join(f"  {line}" for line in text)


@dataclass
class Services:
    """The `jamsos run SERVICE` processes of the benchmark."""

    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def peak_rss_mb(self) -> dict[str, float]:
        return {name: round(peak_rss_mb(p.pid), 1) for name, p in self.procs.items()}


def _start(name: str, label: str, env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    """`jamsos run NAME`, its output to LABEL.log in `workdir`."""
    with (workdir / f"{label}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "jamsos", "run", name],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@contextlib.asynccontextmanager
async def services(
    settings: Settings, workdir: Path, instances: int = 1, names: Sequence[str] = SERVICES
) -> AsyncIterator[Services]:
    """Start the services `names` (registration, verification and billing) as processes,
    `instances` of each in the same consumer groups; yields once each has its partitions
    assigned (`jamsos run` prints "running" then)."""
    env = child_environment(
        JAMSOS_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
        JAMSOS_KAFKA_SECURITY_PROTOCOL=settings.kafka_security.protocol,
        JAMSOS_DATABASE_URL=settings.database_url or "",
        JAMSOS_GROUP_PREFIX=settings.group_prefix,
        JAMSOS_HTTP_PORT="0",
        JAMSOS_STATE_DIR=str(workdir),
        JAMSOS_POLICY_CEILING=str(settings.policy.ceiling),
        JAMSOS_POLICY_TARGET=str(settings.policy.target),
        # the benchmarks read the services' INFO lines ("running", each batch)
        JAMSOS_LOG_LEVEL="DEBUG" if settings.log_level == "DEBUG" else "INFO",
        COLUMNS="200",
    )
    running = Services()
    try:
        for name in names:
            for i in range(instances):
                label = name if instances == 1 else f"{name}-{i + 1}"
                running.procs[label] = _start(name, label, env, workdir)
        deadline = time.monotonic() + 120
        for name, proc in running.procs.items():
            log_path = workdir / f"{name}.log"
            while b"running" not in log_path.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchFailed(
                        f"`jamsos run {name}` did not start; its log ends:\n{log_tail(log_path)}"
                    )
                await asyncio.sleep(0.1)
        yield running
    finally:
        for proc in running.procs.values():
            proc.terminate()
        for proc in running.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _wait_settled(pool: Any, f: Feed, started: float, timeout: float) -> tuple[float, float]:
    """Wait until every submission is decided, every outcome published and the billing ledger
    holds every enrolment; returns (seconds to decided + published, seconds to the ledger)
    since `started` (a perf_counter reading)."""
    deadline = started + timeout
    decided_at: float | None = None
    while True:
        # In flight is read on partial indexes; the whole tables are counted only once
        # nothing is (each whole count took PostgreSQL CPU from the services measured).
        quiet = decided_at is not None or not await bench.any_in_flight(pool)
        state = await bench.settled(pool) if quiet else None
        now = time.perf_counter()
        if decided_at is None and state is not None:
            done = state.decided == f.submissions and state.unpublished == 0
            decided_at = now if done else None
        if decided_at is not None and state is not None:
            enrolled = (await bench.outcome_counts(pool)).get("ENROLLED", 0)
            if state.covered >= enrolled:
                return decided_at - started, now - started
        if now > deadline:
            state = state or await bench.settled(pool)
            raise BenchFailed(
                f"pipeline not settled after {timeout:.0f}s: {state.decided:,} of"
                f" {f.submissions:,} decided, {state.unpublished:,} outbox rows unpublished"
            )
        # the figures come from the rows' timestamps, not from when a poll saw them; at a
        # million rows, often enough is once a second
        await asyncio.sleep(0.2 if f.submissions <= 100_000 else 1.0)


async def run(settings: Settings, n: int, workdir: Path, instances: int = 1) -> dict[str, Any]:
    """The whole pipeline benchmark on `settings`' broker and (fresh) database."""
    settings = replace(
        settings,
        group_prefix="jamsos-bench",
        policy=replace(settings.policy, ceiling=max(settings.policy.ceiling, 2 * n)),
    )
    await bootstrap.prepare(settings, fresh_database=True)
    f = feed(n)
    baseline_messages = [m for chunk in _messages(f, stamp=False) for m in chunk]
    baseline = await bench.round_trip(settings, "jamsos.bench.round-trip", baseline_messages)
    del baseline_messages
    assert settings.database_url is not None
    pool = await db.create_pool(settings.database_url, max_size=2)
    try:
        async with services(settings, workdir, instances) as running:
            started = time.perf_counter()
            publish_seconds = await _publish(settings, f)
            _, ledger_seconds = await _wait_settled(pool, f, started, max(300.0, n / 100))
            rss = running.peak_rss_mb()
        lat = await bench.latencies(pool)
        counts = await bench.outcome_counts(pool)
    finally:
        await pool.close()
    seconds = lat["span"]
    outcomes = {
        "enrolled": counts.get("ENROLLED", 0),
        "duplicate": counts.get("DUPLICATE", 0),
        "rejected": counts.get("REJECTED", 0),
        "review": counts.get("REVIEW", 0),
        "events": sum(v for k, v in counts.items() if k.startswith("topic:")),
    }
    throughput = n / seconds if seconds else 0.0
    return {
        "n": n,
        "instances": instances,
        "batch_size": settings.batch_size,
        "mix": f.mix,
        "baseline": {"seconds": round(baseline, 3), "msg_per_s": round(n / baseline, 1)},
        "pipeline": {
            "seconds": round(seconds, 3),
            "submissions_per_s": round(throughput, 1),
            "publish_seconds": round(publish_seconds, 3),
            "ledger_seconds": round(ledger_seconds, 3),
            "latency_p50_s": round(lat["p50"], 3),
            "latency_p99_s": round(lat["p99"], 3),
            "latency_max_s": round(lat["worst"], 3),
            "outcomes": outcomes,
            "peak_rss_mb": rss,
        },
        "ratio": round(throughput / (n / baseline), 4),
    }


async def run_backlog(
    settings: Settings, n: int, workdir: Path, instances: int = 1
) -> dict[str, Any]:
    """Bounded memory: the whole feed is published first (a backlog of N submissions on the
    topic), then the services start and drain it, then bill the first month of everyone they
    enrolled (request -> invoice); their peak RSS (VmHWM) says whether any of them loaded the
    backlog. The broker's memory is not the services': tansu keeps topics in
    RAM."""
    settings = replace(
        settings,
        group_prefix="jamsos-bench",
        policy=replace(settings.policy, ceiling=max(settings.policy.ceiling, 2 * n)),
    )
    await bootstrap.prepare(settings, fresh_database=True)
    f = feed(n)
    publish_seconds = await _publish(settings, f)
    assert settings.database_url is not None
    pool = await db.create_pool(settings.database_url, max_size=2)
    try:
        async with services(settings, workdir, instances) as running:
            started = time.perf_counter()
            decided, ledger = await _wait_settled(pool, f, started, max(600.0, n / 50))
            # One billing month of everyone just enrolled, through the running billing
            # service: a run request on its topic -> the invoices in the database.
            period = Period.of(coverage_start(jakarta_now(), settings.policy.coverage_start_rule))
            try:
                month = await billing_requests.bill(
                    settings, pool, period, timeout=max(300.0, n / 1_000)
                )
            except TimeoutError as error:
                raise BenchFailed(
                    f"the billing month {period} did not finish ({error}); the billing"
                    f" service's log ends:\n{log_tail(workdir / 'billing.log')}"
                ) from error
            rss = running.peak_rss_mb()
        counts = await bench.outcome_counts(pool)
    finally:
        await pool.close()
    return {
        "n": n,
        "instances": instances,
        "batch_size": settings.batch_size,
        "mix": f.mix,
        "publish_seconds": round(publish_seconds, 3),
        "drain_seconds": round(decided, 3),
        "ledger_seconds": round(ledger, 3),
        "submissions_per_s": round(n / decided, 1) if decided else 0.0,
        "enrolled": counts.get("ENROLLED", 0),
        # a valid submission that looks like an enrolled worker under another NIK goes to
        # review: the synthetic feed makes a few such look-alikes per 100,000 by chance
        "outcomes": {
            **{
                k.lower(): counts.get(k, 0) for k in ("ENROLLED", "DUPLICATE", "REJECTED", "REVIEW")
            },
            "events": sum(v for k, v in counts.items() if k.startswith("topic:")),
        },
        "billing_month": {
            "period": str(month.period),
            "outcome": month.outcome,
            "seconds": round(month.seconds, 3),
            "invoices": [
                {
                    "invoice_no": i.invoice_no,
                    "kind": i.kind,
                    "participants": i.participants,
                    "amount": i.amount,
                }
                for i in month.invoices
            ],
        },
        "peak_rss_mb": rss,
    }
