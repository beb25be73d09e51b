"""Finance guard rails: bill refuses far-ahead periods, invoice pay checks amount, reference and
date and records partial payments, reconcile names the periods to bill again, the report counts
months in arrears and warns before the third."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import pytest

from jamsos.domain.period import Period
from jamsos.reporting import billing_report
from jamsos.settings import Settings
from jamsos.workers.runtime import jakarta_now
from tests.conftest import running
from tests.integration import test_billing_cli as billing_cli
from tests.integration.billing_support import JAN_20, cli, cli_process, enrol, feed_ledger, workers

pytestmark = pytest.mark.integration

# the billing CLI tests' fixtures: seven participants billed for 2025-02, settings with no broker
db_settings = billing_cli.db_settings
billed = billing_cli.billed
REGULAR = billing_cli.REGULAR

OWED = 117_600  # seven participants × Rp16,800 for 2025-02


async def pay(settings: Settings, *extra: str) -> Any:
    return await cli(settings, "invoice", "pay", REGULAR, *extra)


async def test_bill_more_than_a_month_ahead_is_refused_without_force(
    db_settings: Settings,
) -> None:
    # three months on: still "more than one month ahead" should a month turn before the CLI runs
    far = Period.of(jakarta_now().date()).next().next().next()
    result = await cli(db_settings, "bill", str(far))
    assert result.exit_code == 2
    assert f"{far} is more than one month ahead of today" in result.output
    assert "--force" in result.output


async def test_payment_with_a_future_date_is_refused(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    # two days on: still in the future should the day turn before the CLI runs
    later = (jakarta_now() + dt.timedelta(days=2)).date()
    result = await pay(
        db_settings,
        "--amount",
        str(OWED),
        "--reference",
        "T1",
        "--paid-on",
        later.strftime("%d/%m/%Y"),
    )
    assert result.exit_code == 2 and "is in the future" in result.output
    assert await pool.fetchval("SELECT count(*) FROM payments") == 0


async def test_payment_differing_from_the_balance_is_refused_unless_partial(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    short = await pay(db_settings, "--amount", "100.000", "--reference", "T1")
    assert short.exit_code == 1
    assert "differs from the outstanding Rp117.600" in short.output and "--partial" in short.output
    over = await pay(db_settings, "--amount", "200000", "--reference", "T1")
    assert over.exit_code == 1 and "more than the outstanding" in over.output
    assert await pool.fetchval("SELECT count(*) FROM payments") == 0

    part = await pay(
        db_settings,
        "--amount",
        "Rp100.000",
        "--reference",
        "T1",
        "--partial",
        "--paid-on",
        "14/02/2025",
    )
    assert part.exit_code == 0, part.output
    assert "Rp17.600 still outstanding" in part.output
    async with pool.acquire() as conn:
        report = await billing_report(conn, dt.date(2025, 2, 16))
    assert report["periods"][0]["paid"] == 100_000
    assert report["periods"][0]["outstanding"] == 17_600
    assert await pool.fetchval("SELECT status FROM invoices WHERE invoice_no = $1", REGULAR) == (
        "ISSUED"
    )

    again = await pay(db_settings, "--amount", "100000", "--reference", "T1", "--partial")
    assert again.exit_code == 0 and "already recorded; nothing changed" in again.output
    rest = await pay(db_settings, "--amount", "17600", "--reference", "T2")
    assert rest.exit_code == 0 and f"{REGULAR} PAID on" in rest.output
    rows = await pool.fetch("SELECT amount, partial, paid_on FROM payments ORDER BY payment_id")
    assert [(r["amount"], r["partial"]) for r in rows] == [(100_000, True), (17_600, False)]
    assert rows[0]["paid_on"] == dt.date(2025, 2, 14)
    assert await pool.fetchval("SELECT status FROM invoices WHERE invoice_no = $1", REGULAR) == (
        "PAID"
    )


async def test_reconcile_after_a_late_enrolment_names_the_period_to_bill_again(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    late = workers({"DISDAG": 1}, JAN_20, seed=99)
    await enrol(pool, db_settings, late, JAN_20)
    await feed_ledger(pool, JAN_20)

    result = await cli(db_settings, "reconcile")

    assert result.exit_code == 1
    assert "period 2025-02: 1 covered participant(s) not charged yet" in result.output
    assert "run `jamsos bill 2025-02`" in result.output


async def test_report_counts_months_in_arrears_and_warns_before_the_third(
    pool: asyncpg.Pool, billed: Any
) -> None:
    async with pool.acquire() as conn:
        first = await billing_report(conn, dt.date(2025, 2, 16))
        second = await billing_report(conn, dt.date(2025, 3, 16))
        third = await billing_report(conn, dt.date(2025, 4, 16))
    assert first["periods"][0]["months_in_arrears"] == 1
    assert not any("months in arrears" in w for w in first["warnings"])
    assert second["periods"][0]["months_in_arrears"] == 2
    assert "period 2025-02: 2 months in arrears: pay Rp117.600 by 2025-04-15" in " ".join(
        second["warnings"]
    )
    assert third["periods"][0]["months_in_arrears"] == 3
    assert "BPU participation lapses after 3 unpaid months" in " ".join(third["warnings"])


async def test_bill_for_a_month_nobody_is_covered_in_says_so(settings: Settings) -> None:
    month = Period.of(jakarta_now().date())
    async with running(settings, ["billing"]):
        result = await cli_process(settings, "bill", str(month))
    assert result.exit_code == 0, result.output
    assert f"{month}: nobody is covered for the whole of {month}" in result.output
    assert "every covered participant is charged" not in result.output
