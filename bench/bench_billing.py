"""Benchmark: bill one period for 100,000 synthetic participants with the real billing use case.

Creates (and drops) its own database on the machine's PostgreSQL (JAMSOS_BENCH_DATABASE_URL,
default postgresql://postgres@127.0.0.1:5432/postgres), loads coverage rows with COPY, then
times: the first run (accrual + REGULAR invoice), a re-run of the unchanged period, a run after
1% late enrolments and 1% backdated terminations (SUPPLEMENTARY + CREDIT), the CSV export of
the REGULAR invoice, and reconciliation. Usage: python bench/bench_billing.py [PARTICIPANTS]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from jamsos.adapters import db, invoices
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.coverage import JAKARTA
from jamsos.usecases.billing import reconcile, run_billing
from jamsos.usecases.messages import Message
from jamsos_schemas import topics

T = TypeVar("T")
ADMIN_DSN = os.environ.get(
    "JAMSOS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AGENCIES = [
    ("DISDAG", "DBHCHT"),
    ("DISHUB", "APBD"),
    ("BPBD", "APBD"),
    ("DINSOS", "APBD"),
    ("DISNAKERPERINKOP", "DBHCHT"),
    ("DISPERTANPANGAN", "DBHCHT"),
]
NOW = dt.datetime(2025, 2, 3, 9, 0, tzinfo=JAKARTA)
ENROLLED_AT = dt.datetime(2025, 1, 10, 9, 0, tzinfo=JAKARTA)

COVERAGE_COLUMNS = [
    "membership_no",
    "coverage_start",
    "nik",
    "agency_code",
    "payer_code",
    "funding_source",
    "enrolled_at",
]


def coverage_rows(first: int, count: int, start: dt.date) -> list[tuple[Any, ...]]:
    """Complete coverage rows: membership, start, NIK, agency, payer, funding, enrolled_at."""
    rows = []
    for i in range(first, first + count):
        agency, funding = AGENCIES[i % len(AGENCIES)]
        rows.append(
            (f"KDS-{i:09d}", start, f"3319{i:012d}", agency, "PEMKAB-KUDUS", funding, ENROLLED_AT)
        )
    return rows


def run_request(request_id: str) -> Message:
    body = {"request_id": request_id, "period": "2025-02", "requested_at": NOW.isoformat()}
    return Message(topics.BILLING_RUN_REQUESTED, 0, 0, b"2025-02", json.dumps(body).encode())


async def timed(label: str, n: int, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    result = await work()
    seconds = time.perf_counter() - started
    rate = f"{n / seconds:,.0f} rows/s" if n else ""
    print(f"{label:<58} {seconds:8.3f} s  {rate}", flush=True)
    return result


async def main(participants: int) -> None:
    name = f"jamsos_bench_{os.getpid()}"
    await db.recreate_database(ADMIN_DSN, name)
    dsn = urlunsplit(urlsplit(ADMIN_DSN)._replace(path="/" + name))
    pool = await db.create_pool(dsn, max_size=4)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn)
            rows = coverage_rows(0, participants, dt.date(2025, 1, 1))
            await timed(
                f"load {participants:,} coverage rows (COPY)",
                participants,
                lambda: conn.copy_records_to_table(
                    "coverage",
                    records=rows,
                    columns=COVERAGE_COLUMNS,
                ),
            )
            await conn.execute("ANALYZE coverage")

        summary = await timed(
            f"bill 2025-02: first run, {participants:,} participants",
            participants,
            lambda: run_billing(PostgresUnitOfWork(pool), [run_request("r1")], NOW),
        )
        assert summary.counts == {"ISSUED": 1}, summary.counts
        await timed(
            "bill 2025-02 again, unchanged (issues nothing)",
            participants,
            lambda: run_billing(PostgresUnitOfWork(pool), [run_request("r2")], NOW),
        )

        changed = max(participants // 100, 1)
        async with pool.acquire() as conn:
            await conn.copy_records_to_table(
                "coverage",
                records=coverage_rows(participants, changed, dt.date(2025, 2, 1)),
                columns=COVERAGE_COLUMNS,
            )
            await conn.execute(
                "UPDATE coverage SET terminated_at = $1, ended_on = '2025-01-31'"
                " WHERE membership_no IN (SELECT membership_no FROM coverage"
                " ORDER BY membership_no LIMIT $2)",
                NOW,
                changed,
            )
        await timed(
            f"bill 2025-02 after {changed:,} late enrolments + {changed:,} terminations",
            participants,
            lambda: run_billing(PostgresUnitOfWork(pool), [run_request("r3")], NOW),
        )

        async with pool.acquire() as conn:
            listed = await invoices.list_invoices(conn)
            print(
                "invoices:",
                ", ".join(
                    f"{i.invoice_no} {i.kind} {i.participants:,} Rp{i.amount:,}" for i in listed
                ),
            )
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "regular.csv"
                await timed(
                    "export the REGULAR invoice's participant lines (CSV)",
                    participants,
                    lambda: invoices.copy_charge_lines(conn, listed[0].invoice_no, path),
                )
        result = await timed(
            "reconcile 2025-02",
            participants,
            lambda: reconcile(pool, None, NOW, dt.timedelta(hours=1)),
        )
        assert not result.mismatches, result.mismatches
    finally:
        await pool.close()
        conn = await asyncpg.connect(ADMIN_DSN)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
