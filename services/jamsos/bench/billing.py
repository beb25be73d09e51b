"""The billing benchmark: one period for N synthetic participants with the real billing use
case, on a fresh database: the ledger's intake of N enrolled events (the consumer's use case,
batch by batch, without the broker), first run (accrual + REGULAR invoice), the unchanged
re-run, a run after 1% late enrolments + 1% backdated terminations (SUPPLEMENTARY + CREDIT),
the CSV and XLSX exports of the REGULAR invoice's per-participant lines (time and the peak
RSS they add to this process), and reconciliation."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from jamsos.adapters import bench, db, invoice_documents, invoices
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.bootstrap import with_database
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.identity import event_id
from jamsos.usecases.billing import record_coverage, run_billing
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
JAN_1 = dt.date(2025, 1, 1)


def coverage_rows(first: int, count: int, start: dt.date) -> list[tuple[Any, ...]]:
    """Complete coverage rows in bench.COVERAGE_COLUMNS order."""
    rows = []
    for i in range(first, first + count):
        agency, funding = AGENCIES[i % len(AGENCIES)]
        rows.append(
            (f"KDS-{i:09d}", start, f"3319{i:012d}", agency, "PEMKAB-KUDUS", funding, ENROLLED_AT)
        )
    return rows


def enrolled_events(first: int, count: int) -> list[Message]:
    """`participant.enrolled` events of the coverage rows `coverage_rows` makes."""
    messages = []
    for i in range(first, first + count):
        agency, funding = AGENCIES[i % len(AGENCIES)]
        nik = f"3319{i:012d}"
        sid = f"S-{i:09d}"
        body = {
            "event_id": str(event_id("enrolled", agency, sid)),
            "submission_id": sid,
            "agency_code": agency,
            "nik": nik,
            "decided_at": ENROLLED_AT.isoformat(),
            "membership_no": f"KDS-{i:09d}",
            "enrolled_at": ENROLLED_AT.isoformat(),
            "coverage_start": "2025-01-01",
            "programs": ["JKK", "JKM"],
            "monthly_premium": {"JKK": 10000, "JKM": 6800, "total": 16800},
            "payer_code": "PEMKAB-KUDUS",
            "funding_source": funding,
            "worker": {
                "nik": nik,
                "full_name": "Siti Aminah",
                "birth_date": "1990-06-05",
                "sex": "F",
                "address": {"village_code": "3319012001"},
                "occupation": "pedagang pasar",
            },
        }
        key = f"KDS-{i:09d}".encode()
        messages.append(Message(topics.ENROLLED, i % 3, i, key, json.dumps(body).encode()))
    return messages


async def intake(pool: Any, participants: int, batch: int) -> dict[str, Any]:
    """The ledger consumer's use case over `participants` enrolled events, `batch` at a time
    (as the consumer takes them), on an empty ledger; the ledger is emptied again after."""
    messages = enrolled_events(0, participants)
    uow = PostgresUnitOfWork(pool)
    started = time.perf_counter()
    for i in range(0, len(messages), batch):
        await record_coverage(uow, messages[i : i + batch], NOW)
    seconds = time.perf_counter() - started
    covered = await bench.empty_ledger(pool)
    return {
        "events": participants,
        "batch": batch,
        "seconds": round(seconds, 3),
        "events_per_s": round(participants / seconds, 1),
        "covered": covered,
    }


def _status_mb(field: str) -> float:
    """A size from /proc/self/status (VmRSS: now, VmHWM: peak), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_peak() -> float:
    """Reset this process's peak RSS to its RSS now (clear_refs, Linux); returns that."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


async def _peak_rss_added(
    times: dict[str, float], label: str, work: Callable[[], Awaitable[T]]
) -> T:
    """Run `work` timed (as `label`_seconds) and record the peak RSS it added to this process
    (`label`_peak_rss_added_mb)."""
    before = _reset_peak()
    result = await _timed(times, f"{label}_seconds", work)
    times[f"{label}_peak_rss_added_mb"] = round(_status_mb("VmHWM") - before, 1)
    return result


def run_request(request_id: str) -> Message:
    body = {"request_id": request_id, "period": "2025-02", "requested_at": NOW.isoformat()}
    return Message(topics.BILLING_RUN_REQUESTED, 0, 0, b"2025-02", json.dumps(body).encode())


async def _timed(times: dict[str, float], label: str, work: Callable[[], Awaitable[T]]) -> T:
    started = time.perf_counter()
    result = await work()
    times[label] = round(time.perf_counter() - started, 3)
    return result


async def run(database_url: str, participants: int, batch: int, events: int) -> dict[str, Any]:
    """Bill 2025-02 for `participants` on the (fresh, empty) database `database_url`; the
    ledger intake of `events` enrolled events first, `batch` at a time."""
    times: dict[str, float] = {}
    pool = await db.create_pool(database_url, max_size=4)
    uow = PostgresUnitOfWork(pool)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn)
        taken = await intake(pool, events, batch)
        async with pool.acquire() as conn:
            await _timed(
                times,
                "load_seconds",
                lambda: bench.load_coverage(conn, coverage_rows(0, participants, JAN_1)),
            )
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
                exported = await _peak_rss_added(
                    times,
                    "export",
                    lambda: invoices.copy_charge_lines(conn, regular.invoice_no, path),
                )
                times["export_mb"] = round(path.stat().st_size / 1e6, 1)
                # openpyxl writes ~10,000 lines/s at best: the workbook of the (1%)
                # supplementary invoice, to show its memory stays flat while it streams
                supplementary = next(i for i in listed if i.kind == "SUPPLEMENTARY")
                xlsx = Path(tmp) / "supplementary.xlsx"

                async def workbook() -> int:
                    async with conn.transaction(isolation="repeatable_read", readonly=True):
                        return await invoice_documents.write_charge_workbook(
                            conn, supplementary.invoice_no, xlsx
                        )

                xlsx_lines = await _peak_rss_added(times, "xlsx", workbook)
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
        "intake": taken,
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
        "xlsx_lines": xlsx_lines,
        "mismatches": len(result.mismatches),
    }


async def run_fresh(
    admin_dsn: str, name: str, participants: int, batch: int = 5_000, events: int = 100_000
) -> dict[str, Any]:
    """`run` on a database `name` created for it on the server of `admin_dsn`, dropped after."""
    await db.recreate_database(admin_dsn, name)
    try:
        return await run(with_database(admin_dsn, name), participants, batch, events)
    finally:
        await bench.drop_database(admin_dsn, name)
