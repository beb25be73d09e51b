"""Billing use cases on real PostgreSQL: accrual, invoices, differences, races, tariffs."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter
from typing import Any

import asyncpg
import pytest

from jamsos.adapters import tariff_table
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.accrual import CoverageRecord, accrue
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.period import Period
from jamsos.settings import Settings, load_settings
from jamsos.usecases.billing import run_billing
from jamsos.usecases.termination import terminate
from jamsos_schemas import topics
from tests.integration.billing_support import (
    AGENCY_FUNDING,
    JAN_20,
    bill,
    enrol,
    feed_ledger,
    invoice_events,
    invoices,
    record,
    run_request,
    termination,
    uncredited,
    workers,
)

pytestmark = pytest.mark.integration

COHORT = {"DISDAG": 4, "DISHUB": 3, "BPBD": 2, "DINSOS": 1, "DISNAKERPERINKOP": 2}


@pytest.fixture
def policy_settings(tmp_path: Any) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


async def enrolled_cohort(
    pool: asyncpg.Pool,
    settings: Settings,
    cohort: dict[str, int] = COHORT,
    now: dt.datetime = JAN_20,
    seed: int = 7,
) -> list[dict[str, Any]]:
    payloads = workers(cohort, now, seed)
    await enrol(pool, settings, payloads, now)
    await feed_ledger(pool, now)
    return payloads


async def test_first_run_issues_one_regular_invoice_per_agency_to_the_rupiah(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await enrolled_cohort(pool, policy_settings)
    await bill(pool, "2025-02")
    [event] = await invoice_events(pool)
    assert event["invoice_no"] == "JMS-PEMKAB-KUDUS-202502-01"
    assert event["kind"] == "REGULAR"
    expected = [
        {
            "agency_code": a,
            "funding_source": AGENCY_FUNDING[a],
            "participants": n,
            "jkk": n * 10_000,
            "jkm": n * 6_800,
            "amount": n * 16_800,
        }
        for a, n in sorted(COHORT.items())
    ]
    assert event["lines"] == expected
    total = sum(COHORT.values())
    assert event["totals"] == {
        "participants": total,
        "jkk": total * 10_000,
        "jkm": total * 6_800,
        "amount": total * 16_800,
    }


async def test_period_before_coverage_starts_issues_nothing(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await enrolled_cohort(pool, policy_settings)  # coverage from 2025-02-01
    await bill(pool, "2025-01")
    assert await invoices(pool) == []
    assert await pool.fetchval("SELECT outcome FROM billing_runs") == "DONE"


async def test_rerun_of_unchanged_period_issues_no_invoice(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await enrolled_cohort(pool, policy_settings)
    await bill(pool, "2025-02")
    await bill(pool, "2025-02")
    await bill(pool, "2025-02")
    assert [i["kind"] for i in await invoices(pool)] == ["REGULAR"]
    assert await uncredited(pool, "2025-02") == sum(COHORT.values())


async def test_redelivered_run_request_is_processed_once(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await enrolled_cohort(pool, policy_settings)
    request = run_request("2025-02", "same-request")
    first = await run_billing(PostgresUnitOfWork(pool), [request], JAN_20)
    again = await run_billing(PostgresUnitOfWork(pool), [request, request], JAN_20)
    assert first.counts == {"ISSUED": 1}
    assert again.counts == {"REPEATED": 2}
    assert await pool.fetchval("SELECT count(*) FROM billing_runs") == 1


async def test_run_request_id_reused_with_other_content_goes_to_dlq(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await run_billing(PostgresUnitOfWork(pool), [run_request("2025-02", "r-1")], JAN_20)
    await run_billing(PostgresUnitOfWork(pool), [run_request("2025-03", "r-1")], JAN_20)
    [error] = await pool.fetch("SELECT error FROM dead_letters")
    assert error["error"].startswith("REQUEST_ID_REUSED")
    assert await pool.fetchval("SELECT period FROM billing_runs") == "2025-02"


async def test_unreadable_run_request_goes_to_dlq_and_schema_error_is_named(
    pool: asyncpg.Pool,
) -> None:
    bad_json = record(b"\xff not json", topics.BILLING_RUN_REQUESTED)
    bad_period = record(
        {"request_id": "x", "period": "2025-13", "requested_at": "2025-01-31T08:00:00+07:00"},
        topics.BILLING_RUN_REQUESTED,
    )
    summary = await run_billing(PostgresUnitOfWork(pool), [bad_json, bad_period], JAN_20)
    assert summary.counts == {"DLQ": 2}
    errors = sorted(r["error"] for r in await pool.fetch("SELECT error FROM dead_letters"))
    assert errors[0].startswith("SCHEMA_INVALID: period")
    assert errors[1].startswith("UNREADABLE")
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", topics.DLQ) == 2


async def test_period_without_tariff_fails_run_and_goes_to_dlq(pool: asyncpg.Pool) -> None:
    await bill(pool, "2024-12")
    row = await pool.fetchrow("SELECT outcome, detail FROM billing_runs")
    assert row is not None and row["outcome"] == "FAILED"
    assert row["detail"].startswith("NO_TARIFF")
    assert (await pool.fetchval("SELECT error FROM dead_letters")).startswith("NO_TARIFF")


async def test_three_concurrent_runs_issue_one_regular_invoice_and_charge_each_once(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payloads = await enrolled_cohort(pool, policy_settings)
    await asyncio.gather(*(bill(pool, "2025-02") for _ in range(3)))
    assert [i["kind"] for i in await invoices(pool)] == ["REGULAR"]
    assert await pool.fetchval("SELECT count(*) FROM charges") == len(payloads)
    assert await pool.fetchval("SELECT count(*) FROM billing_runs") == 3
    assert len(await invoice_events(pool)) == 1


async def test_late_enrolment_yields_one_supplementary_invoice_for_that_participant(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await enrolled_cohort(pool, policy_settings)
    await bill(pool, "2025-02")
    late = JAN_20 + dt.timedelta(days=5)  # still covered from 2025-02-01
    await enrolled_cohort(pool, policy_settings, {"DINSOS": 1}, late, seed=8)
    await bill(pool, "2025-02", late)
    await bill(pool, "2025-02", late)
    regular, supplementary = await invoices(pool, "2025-02")
    assert (supplementary["invoice_no"], supplementary["kind"]) == (
        "JMS-PEMKAB-KUDUS-202502-02",
        "SUPPLEMENTARY",
    )
    assert (supplementary["participants"], supplementary["amount"]) == (1, 16_800)
    assert regular["participants"] == sum(COHORT.values())


async def test_backdated_termination_of_billed_month_yields_credit_note(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payloads = await enrolled_cohort(pool, policy_settings)
    await bill(pool, "2025-02")
    await bill(pool, "2025-03")
    nik = payloads[0]["worker"]["nik"]
    march = dt.datetime(2025, 3, 5, 9, 0, tzinfo=JAKARTA)
    request = termination(nik, "MOVED_OUT", "2025-02-10", payloads[0]["agency_code"])
    await terminate(
        PostgresUnitOfWork(pool),
        [record(request, topics.TERMINATION_REQUESTED)],
        policy_settings.policy,
        march,
    )
    await feed_ledger(pool, march)
    await bill(pool, "2025-02", march)  # still covered all of February: nothing
    await bill(pool, "2025-03", march)
    kinds = [
        (i["invoice_no"], i["kind"], i["participants"], i["amount"]) for i in await invoices(pool)
    ]
    assert kinds == [
        ("JMS-PEMKAB-KUDUS-202502-01", "REGULAR", 12, 12 * 16_800),
        ("JMS-PEMKAB-KUDUS-202503-01", "REGULAR", 12, 12 * 16_800),
        ("JMS-PEMKAB-KUDUS-202503-02", "CREDIT", -1, -16_800),
    ]
    [credit] = [e for e in await invoice_events(pool) if e["kind"] == "CREDIT"]
    assert credit["lines"] == [
        {
            "agency_code": payloads[0]["agency_code"],
            "funding_source": AGENCY_FUNDING[payloads[0]["agency_code"]],
            "participants": -1,
            "jkk": -10_000,
            "jkm": -6_800,
            "amount": -16_800,
        }
    ]
    assert await uncredited(pool, "2025-03") == 11


async def test_supplementary_and_credit_in_one_run_take_consecutive_numbers(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    payloads = await enrolled_cohort(pool, policy_settings)
    await bill(pool, "2025-03")
    later = dt.datetime(2025, 2, 3, 9, 0, tzinfo=JAKARTA)  # enrolled in Feb: covered from March
    await enrolled_cohort(pool, policy_settings, {"BPBD": 2}, later, seed=9)
    await terminate(
        PostgresUnitOfWork(pool),
        [
            record(
                termination(payloads[1]["worker"]["nik"], "DECEASED", "2025-02-01"),
                topics.TERMINATION_REQUESTED,
            )
        ],
        policy_settings.policy,
        later,
    )
    await feed_ledger(pool, later)
    await bill(pool, "2025-03", later)
    kinds = [(i["seq"], i["kind"], i["participants"]) for i in await invoices(pool)]
    assert kinds == [(1, "REGULAR", 12), (2, "SUPPLEMENTARY", 2), (3, "CREDIT", -1)]


async def test_periods_use_the_tariff_in_force_on_their_first_day(
    pool: asyncpg.Pool, policy_settings: Settings
) -> None:
    await pool.execute("INSERT INTO tariffs VALUES ('2026-01-01', 12000, 7000)")  # made up
    november = dt.datetime(2025, 10, 20, 10, 0, tzinfo=JAKARTA)
    payloads = await enrolled_cohort(pool, policy_settings, {"DISHUB": 3}, november)
    await bill(pool, "2025-12", november)
    await bill(pool, "2026-01", november)
    amounts = {i["period"]: (i["jkk"], i["jkm"], i["amount"]) for i in await invoices(pool)}
    n = len(payloads)
    assert amounts == {
        "2025-12": (n * 10_000, n * 6_800, n * 16_800),
        "2026-01": (n * 12_000, n * 7_000, n * 19_000),
    }


async def test_sql_accrual_agrees_with_reference_function_on_mixed_coverage(
    pool: asyncpg.Pool,
) -> None:
    rng = random.Random(4)
    starts = [dt.date(2025, m, 1) for m in range(1, 8)]
    records: list[CoverageRecord] = []
    for i in range(400):
        start = rng.choice(starts)
        end_choice = rng.random()
        end = (
            None
            if end_choice < 0.5
            else (
                Period(2025, rng.randint(1, 9)).last_day
                if end_choice < 0.7
                else dt.date(2025, rng.randint(1, 9), 10)
                if end_choice < 0.8
                else (start - dt.timedelta(days=1))
            )
        )  # ended before it began (backdated)
        agency = rng.choice(sorted(AGENCY_FUNDING))
        complete = rng.random() > 0.1  # some only terminated, enrolment still on its way
        payer = rng.choice(["PEMKAB-KUDUS", "PEMKAB-KUDUS", "DESA-X"])
        records.append(
            CoverageRecord(
                f"KDS-{i:09d}",
                start,
                end,
                f"33190101019{i:05d}",
                agency if complete else None,
                payer if complete else None,
                AGENCY_FUNDING[agency] if complete else None,
            )
        )
        # Re-enrolled later under the same membership, or (terminated and re-enrolled within
        # one month) with a period that overlaps the terminated one.
        restart = None if end is None else dt.date(2025, min(end.month + rng.choice([0, 2]), 12), 1)
        if restart is not None and restart > start and rng.random() < 0.2:  # re-enrolled
            records.append(
                CoverageRecord(
                    f"KDS-{i:09d}",
                    restart,
                    None,
                    f"33190101019{i:05d}",
                    agency,
                    payer,
                    AGENCY_FUNDING[agency],
                )
            )
    await pool.executemany(
        """
        INSERT INTO coverage (membership_no, coverage_start, nik, agency_code, payer_code,
            funding_source, enrolled_at, terminated_at, ended_on)
        VALUES ($1, $2, $3, $4, $5, $6,
                CASE WHEN $5::text IS NULL THEN NULL ELSE '2025-01-01'::timestamptz END,
                CASE WHEN $7::date IS NULL THEN NULL ELSE '2025-06-01'::timestamptz END, $7)
        """,
        [
            (
                r.membership_no,
                r.coverage_start,
                r.nik,
                r.agency_code,
                r.payer_code,
                r.funding_source,
                r.coverage_end,
            )
            for r in records
        ],
    )
    async with pool.acquire() as conn:
        tariffs = await tariff_table.tariffs(conn)
    for month in range(1, 11):
        period = Period(2025, month)
        await bill(pool, str(period))
        rows = await pool.fetch(
            "SELECT membership_no, coverage_start, agency_code, payer_code, jkk, jkm"
            " FROM charges WHERE period = $1 ORDER BY membership_no",
            str(period),
        )
        expected = accrue(records, period, tariffs)
        assert [tuple(r.values()) for r in rows] == [
            (c.membership_no, c.coverage_start, c.agency_code, c.payer_code, c.jkk, c.jkm)
            for c in expected
        ], f"period {period}"
        per_payer = Counter(c.payer_code for c in expected)
        issued = {i["payer_code"]: i["participants"] for i in await invoices(pool, str(period))}
        assert issued == dict(per_payer)
