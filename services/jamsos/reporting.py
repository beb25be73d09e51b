"""The report's data: the one document behind `jamsos report` (tables and `--json`), the demo's
closing report and the dashboard's `/api/summary`. Plain JSON-ready values; rendering is the
caller's (cli/report.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import asyncpg

from jamsos.adapters import reports
from jamsos.adapters.invoices import by_funding_source
from jamsos.domain.invoicing import LAPSE_MONTHS, due_date
from jamsos.domain.period import Period
from jamsos.domain.policy import Policy
from jamsos.indonesian import rupiah
from jamsos.settings import Settings
from jamsos.workers.runtime import jakarta_now


async def report_data(settings: Settings) -> dict[str, Any]:
    """Everything `jamsos report` shows, read from the configured database."""
    if settings.database_url is None:
        raise RuntimeError("JAMSOS_DATABASE_URL is not set (see `jamsos up`)")
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await collect(conn, settings.policy, jakarta_now().date())
    finally:
        await conn.close()


def report_json(data: dict[str, Any]) -> str:
    """The JSON text of `jamsos report --json` and of the dashboard's `/api/summary`."""
    return json.dumps(data, default=str, indent=2)


async def collect(conn: asyncpg.Connection, policy: Policy, today: dt.date) -> dict[str, Any]:
    """The report on one connection: registration figures with a `billing` section."""
    data = await reports.registration_report(conn, policy)
    data["billing"] = await billing_report(conn, today)
    return data


def _arrears_warning(p: reports.PeriodBilling) -> str:
    """Before the third unpaid month, the day it is reached; from then on, that it has."""
    if p.months_in_arrears >= LAPSE_MONTHS:
        return (
            f"period {p.period}: {p.months_in_arrears} months in arrears: BPU participation"
            f" lapses after {LAPSE_MONTHS} unpaid months; pay {rupiah(p.outstanding)} now"
        )
    third = due_date(Period.parse(p.period).next().next())
    return (
        f"period {p.period}: {p.months_in_arrears} months in arrears: pay"
        f" {rupiah(p.outstanding)} by {third.isoformat()}, the day after which BPU"
        f" participation lapses ({LAPSE_MONTHS} unpaid months)"
    )


async def billing_report(conn: asyncpg.Connection, today: dt.date) -> dict[str, Any]:
    """Invoices, payments and arrears per period, with a warning per period unpaid after its
    due date."""
    figures = await reports.billing_figures(conn, today)
    warnings = [
        f"period {p.period}: {rupiah(p.outstanding)} unpaid after the due date"
        f" {p.due_date.isoformat()}"
        for p in figures.periods
        if p.overdue
    ]
    warnings += [_arrears_warning(p) for p in figures.periods if p.months_in_arrears >= 2]
    latest = figures.periods[-1].period if figures.periods else None
    return {
        "periods": [dataclasses.asdict(p) for p in figures.periods],
        "warnings": warnings,
        "unpaid_after_due": [dataclasses.asdict(i) for i in figures.unpaid_after_due],
        "latest_period": latest,
        "latest_by_agency": [dataclasses.asdict(line) for line in figures.latest_by_agency],
        "latest_by_funding_source": by_funding_source(figures.latest_by_agency),
    }
