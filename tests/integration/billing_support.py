"""Helpers of the billing and termination tests: records, events, direct enrolment, queries."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

import asyncpg

from jamsos import synthetic
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.identity import event_id
from jamsos.settings import Settings
from jamsos.usecases.billing import record_coverage, run_billing
from jamsos.usecases.messages import Message
from jamsos.usecases.registration import register
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.conftest import clean_env

JAN_20 = dt.datetime(2025, 1, 20, 10, 0, tzinfo=JAKARTA)
TARIFF_2025 = 16_800
AGENCY_FUNDING = {
    "DISDAG": "DBHCHT",
    "DISHUB": "APBD",
    "BPBD": "APBD",
    "DINSOS": "APBD",
    "DISNAKERPERINKOP": "DBHCHT",
    "DISPERTANPANGAN": "DBHCHT",
}
_offsets = count()


def record(payload: Any, topic: str, key: str | None = None) -> Message:
    """A consumed record holding `payload` (bytes as they are, anything else as JSON)."""
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic, 0, next(_offsets), None if key is None else key.encode(), value)


async def applied_events(pool: asyncpg.Pool) -> list[uuid.UUID]:
    """The participant events the billing ledger applied, each once (migration 0019): each is
    its coverage row's `enrolled_event_id` while it is that row's latest enrolment, else (or
    also) in `ledger_events`."""
    rows = await pool.fetch(
        "SELECT event_id FROM ledger_events UNION"
        " SELECT enrolled_event_id FROM coverage WHERE enrolled_event_id IS NOT NULL"
    )
    return [r[0] for r in rows]


def run_request(period: str, request_id: str | None = None) -> Message:
    """A `billing.run-requested` record."""
    body = {
        "request_id": request_id or f"run-{uuid.uuid4().hex[:10]}",
        "period": period,
        "requested_at": "2025-01-31T08:00:00+07:00",
    }
    return record(body, topics.BILLING_RUN_REQUESTED, period)


def termination(
    nik: str,
    reason: str = "WITHDRAWN",
    effective_date: str = "2025-02-10",
    agency: str = "DISDAG",
    request_id: str | None = None,
) -> dict[str, Any]:
    """A `participant.termination-requested` payload."""
    return {
        "request_id": request_id or f"T-{uuid.uuid4().hex[:10]}",
        "agency_code": agency,
        "nik": nik,
        "reason": reason,
        "effective_date": effective_date,
    }


def workers(agencies: dict[str, int], on: dt.datetime, seed: int = 7) -> list[dict[str, Any]]:
    """Valid submissions: `n` distinct eligible workers per agency."""
    rng = random.Random(seed)
    payloads: list[dict[str, Any]] = []
    serial = seed * 1000
    for agency, n in agencies.items():
        for _ in range(n):
            serial += 1
            person = synthetic.worker(rng, serial, on.date())
            payloads.append(synthetic.submission(agency, f"{agency}-{serial}", person, on))
    return payloads


async def enrol(
    pool: asyncpg.Pool, settings: Settings, payloads: Sequence[Any], now: dt.datetime
) -> None:
    """Register and verify submissions through the use cases (no broker)."""
    before = await pool.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    await register(
        PostgresUnitOfWork(pool),
        [record(p, topics.SUBMITTED) for p in payloads],
        settings.policy,
        now,
    )
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = $1 AND id > $2 ORDER BY id", topics.ACCEPTED, before
    )
    await verify(
        PostgresUnitOfWork(pool),
        [record(bytes(r["value"]), topics.ACCEPTED) for r in rows],
        settings.policy,
        now,
    )


async def feed_ledger(pool: asyncpg.Pool, now: dt.datetime) -> None:
    """Hand every enrolled/terminated event in the outbox to the billing ledger (as a consumer
    that reads them all again would)."""
    rows = await pool.fetch(
        "SELECT topic, value FROM outbox WHERE topic = ANY($1::text[]) ORDER BY id",
        [topics.ENROLLED, topics.TERMINATED],
    )
    await record_coverage(
        PostgresUnitOfWork(pool), [record(bytes(r["value"]), r["topic"]) for r in rows], now
    )


async def bill(
    pool: asyncpg.Pool, period: str, now: dt.datetime = JAN_20, request_id: str | None = None
) -> None:
    """Run the billing use case for one period."""
    await run_billing(PostgresUnitOfWork(pool), [run_request(period, request_id)], now)


def enrolled_event(
    membership_no: str,
    coverage_start: str,
    *,
    agency: str = "DISDAG",
    enrolled_at: str = "2025-01-20T10:00:00+07:00",
    nik: str = "3319014506900001",
    payer: str = "PEMKAB-KUDUS",
) -> dict[str, Any]:
    """A `participant.enrolled` event for the ledger."""
    submission_id = f"{membership_no}-{enrolled_at}"
    return {
        "event_id": str(event_id("enrolled", agency, submission_id)),
        "submission_id": submission_id,
        "agency_code": agency,
        "nik": nik,
        "decided_at": enrolled_at,
        "membership_no": membership_no,
        "enrolled_at": enrolled_at,
        "coverage_start": coverage_start,
        "programs": ["JKK", "JKM"],
        "monthly_premium": {"JKK": 10000, "JKM": 6800, "total": 16800},
        "payer_code": payer,
        "funding_source": AGENCY_FUNDING.get(agency, "APBD"),
        "worker": {
            "nik": nik,
            "full_name": "Siti Aminah",
            "birth_date": "1990-06-05",
            "sex": "F",
            "address": {"village_code": "3319012001"},
            "occupation": "pedagang pasar",
        },
    }


def terminated_event(
    membership_no: str,
    coverage_start: str,
    coverage_end: str,
    *,
    decided_at: str = "2025-03-05T10:00:00+07:00",
    nik: str = "3319014506900001",
    request_id: str | None = None,
) -> dict[str, Any]:
    """A `participant.terminated` event (status TERMINATED) for the ledger."""
    rid = request_id or f"T-{membership_no}-{decided_at}"
    return {
        "event_id": str(event_id("terminated", rid)),
        "request_id": rid,
        "agency_code": "DISDAG",
        "nik": nik,
        "reason": "WITHDRAWN",
        "effective_date": coverage_end,
        "status": "TERMINATED",
        "membership_no": membership_no,
        "coverage_start": coverage_start,
        "coverage_end": coverage_end,
        "decided_at": decided_at,
    }


async def invoices(pool: asyncpg.Pool, period: str | None = None) -> list[dict[str, Any]]:
    """Invoice rows (optionally of one period) by number."""
    rows = await pool.fetch(
        "SELECT * FROM invoices WHERE $1::text IS NULL OR period = $1 ORDER BY invoice_no", period
    )
    return [dict(r) for r in rows]


async def invoice_events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every invoice-issued event in the outbox, in order."""
    rows = await pool.fetch(
        "SELECT value FROM outbox WHERE topic = $1 ORDER BY id", topics.INVOICE_ISSUED
    )
    return [json.loads(bytes(r["value"])) for r in rows]


async def uncredited(pool: asyncpg.Pool, period: str) -> int:
    """How many participants are charged (net) for `period`."""
    value: int = await pool.fetchval(
        "SELECT count(*) FROM charges WHERE period = $1 AND credit_invoice_no IS NULL", period
    )
    return value


class Clock:
    """A settable clock for services run in-process (Runtime(settings, clock=...))."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def cli_env(settings: Settings) -> dict[str, str | None]:
    """The JAMSOS_* environment that points the CLI at this test's broker and database; every
    other inherited JAMSOS_* variable is unset."""
    inherited: dict[str, str | None] = {k: None for k in os.environ if k.startswith("JAMSOS_")}
    return {
        **inherited,
        "JAMSOS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "JAMSOS_DATABASE_URL": settings.database_url or "",
        "JAMSOS_CONFIG": str(settings.state_dir / "no-config.yaml"),
        "JAMSOS_ACTOR": settings.actor,
    }


async def cli(settings: Settings, *args: str) -> Any:
    """Run `jamsos ARGS` in a thread (it runs its own event loop); returns the click Result.

    CliRunner swaps the process's stdout and environment while it runs: only for tests with
    no service running in this process (else use `cli_process`)."""
    import asyncio

    from typer.testing import CliRunner

    from jamsos.cli import app
    from jamsos.cli.errors import explain

    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=cli_env(settings))
    error = result.exception
    failure = None if error is None or isinstance(error, SystemExit) else explain(error)
    if failure is None:
        return result
    # what `jamsos.cli.main` does with a mistake it recognises: one line, its exit code
    return CliResult(failure.code, f"{result.output}error: {failure.message}\n", result.stdout)


@dataclass(frozen=True)
class CliResult:
    """What a `jamsos` subprocess did (the fields of click's Result that tests read)."""

    exit_code: int
    output: str  # stdout and stderr
    stdout: str


async def cli_process(settings: Settings, *args: str) -> CliResult:
    """Run `jamsos ARGS` as a subprocess (clean environment, the test's directory)."""
    env = {k: v for k, v in cli_env(settings).items() if v is not None}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jamsos",
        *args,
        env=clean_env(**env),
        cwd=settings.state_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return CliResult(proc.returncode or 0, out.decode() + err.decode(), out.decode())
