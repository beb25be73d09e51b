"""The billing benchmark: one period for N synthetic participants with the real billing use
case, on a fresh database: first run (accrual + REGULAR invoice), the unchanged re-run, a run
after 1% late enrolments + 1% backdated terminations (SUPPLEMENTARY + CREDIT), the CSV export
of the REGULAR invoice's per-participant lines, and reconciliation."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from jamsos.adapters import bench, db, invoices
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.bootstrap import with_database
from jamsos.domain.coverage import JAKARTA
from jamsos.usecases.billing import run_billing
from jamsos.usecases.messages import Message
from jamsos.usecases.reconciliation import reconcile
from jamsos_schemas import topics

T = TypeVar("T")
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


def coverage_rows(first: int, count: int, start: dt.date) -> list[tuple[Any, ...]]:
    """Complete coverage rows in bench.COVERAGE_COLUMNS order."""
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


async def _timed(times: dict[str, float], label: str, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    result = await work()
    times[label] = round(time.perf_counter() - started, 3)
    return result


async def run(database_url: str, participants: int) -> dict[str, Any]:
    """Bill 2025-02 for `participants` on the (fresh, empty) database `database_url`."""
    times: dict[str, float] = {}
    pool = await db.create_pool(database_url, max_size=4)
    uow = PostgresUnitOfWork(pool)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn)
            rows = coverage_rows(0, participants, dt.date(2025, 1, 1))
            await _timed(times, "load_seconds", lambda: bench.load_coverage(conn, rows))
        first = await _timed(
            times,
            "first_run_seconds",
            lambda: run_billing(uow, [run_request("r1")], NOW),
        )
        again = await _timed(
            times,
            "unchanged_rerun_seconds",
            lambda: run_billing(uow, [run_request("r2")], NOW),
        )
        changed = max(participants // 100, 1)
        async with pool.acquire() as conn:
            late = coverage_rows(participants, changed, dt.date(2025, 2, 1))
            await bench.load_coverage(conn, late)
            await bench.terminate_first(conn, changed, dt.date(2025, 1, 31), NOW)
        after = await _timed(
            times,
            "changed_rerun_seconds",
            lambda: run_billing(uow, [run_request("r3")], NOW),
        )
        async with pool.acquire() as conn:
            listed = await invoices.list_invoices(conn)
            regular = next(i for i in listed if i.kind == "REGULAR")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "regular.csv"
                exported = await _timed(
                    times,
                    "export_seconds",
                    lambda: invoices.copy_charge_lines(conn, regular.invoice_no, path),
                )
        result = await _timed(
            times,
            "reconcile_seconds",
            lambda: reconcile(uow, None, NOW, dt.timedelta(hours=1)),
        )
    finally:
        await pool.close()
    return {
        "participants": participants,
        "changed": changed,
        **times,
        "runs": {
            "first": dict(first.counts),
            "unchanged": dict(again.counts),
            "changed": dict(after.counts),
        },
        "invoices": [
            {
                "invoice_no": i.invoice_no,
                "kind": i.kind,
                "participants": i.participants,
                "amount": i.amount,
            }
            for i in listed
        ],
        "exported_lines": exported,
        "mismatches": len(result.mismatches),
    }


async def run_fresh(admin_dsn: str, name: str, participants: int) -> dict[str, Any]:
    """`run` on a database `name` created for it on the server of `admin_dsn`, dropped after."""
    await db.recreate_database(admin_dsn, name)
    try:
        return await run(with_database(admin_dsn, name), participants)
    finally:
        await bench.drop_database(admin_dsn, name)
