"""Read SQL of `jamsos report`: outcomes per agency and kecamatan, progress, and per period
what was invoiced, paid and is outstanding. Plain queries into plain values, no domain model."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from jamsos.adapters.invoices import INVOICE_COLUMNS, AgencyLine, InvoiceRow, invoice_row
from jamsos.domain.invoicing import due_date, months_in_arrears
from jamsos.domain.period import Period
from jamsos.domain.policy import Policy
from jamsos.domain.wilayah import kecamatan


async def registration_report(conn: asyncpg.Connection, policy: Policy) -> dict[str, Any]:
    """Outcome counts overall, per agency and per kecamatan, and progress towards the target."""
    outcomes = {
        r["status"]: r["n"]
        for r in await conn.fetch("SELECT status, count(*) AS n FROM submissions GROUP BY status")
    }
    per_agency_rows = await conn.fetch(
        """
        SELECT s.agency_code,
               count(*) AS submitted,
               count(*) FILTER (WHERE status = 'ENROLLED') AS enrolled,
               count(*) FILTER (WHERE status = 'DUPLICATE') AS duplicate,
               count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
               count(*) FILTER (WHERE status = 'REVIEW') AS held,
               count(*) FILTER (WHERE status = 'RECEIVED') AS in_flight
        FROM submissions s GROUP BY s.agency_code ORDER BY s.agency_code
        """
    )
    active = {
        r["agency_code"]: r["n"]
        for r in await conn.fetch(
            "SELECT agency_code, count(*) AS n FROM participants WHERE status = 'ACTIVE'"
            " GROUP BY agency_code"
        )
    }
    per_agency = []
    for row in per_agency_rows:
        agency = policy.agency(row["agency_code"])
        per_agency.append(
            {
                **dict(row),
                "name": agency.name if agency else "(unregistered)",
                "active": active.get(row["agency_code"], 0),
                "quota": agency.quota if agency else None,
            }
        )
    names = kecamatan()
    per_kecamatan = [
        {
            "kecamatan_code": r["kecamatan_code"],
            "kecamatan": names.get(r["kecamatan_code"], "?"),
            "active": r["n"],
        }
        for r in await conn.fetch(
            "SELECT kecamatan_code, count(*) AS n FROM participants WHERE status = 'ACTIVE'"
            " GROUP BY kecamatan_code ORDER BY kecamatan_code"
        )
    ]
    reasons = {
        r["code"]: r["n"]
        for r in await conn.fetch(
            """
            SELECT reason->>'code' AS code, count(*) AS n
            FROM submissions, jsonb_array_elements(reasons) AS reason
            WHERE status = 'REJECTED' GROUP BY 1 ORDER BY 2 DESC
            """
        )
    }
    active_total = sum(active.values())
    dead_letters = await conn.fetchval("SELECT count(*) FROM dead_letters")
    open_letters = await conn.fetchval(
        "SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL AND discarded_at IS NULL"
    )
    unpublished = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    # Every processed batch writes outbox rows or dead letters in its transaction.
    last_processed = await conn.fetchval(
        "SELECT greatest((SELECT max(created_at) FROM outbox),"
        " (SELECT max(failed_at) FROM dead_letters))"
    )
    weeks = [
        {"week": r["week"].isoformat(), "enrolled": r["n"]}
        for r in await conn.fetch(
            "SELECT date_trunc('week', enrolled_at AT TIME ZONE 'Asia/Jakarta')::date AS week,"
            " count(*) AS n FROM participants GROUP BY 1 ORDER BY 1"
        )
    ]
    return {
        "outcomes": outcomes,
        "submissions": sum(outcomes.values()),
        "rejection_reasons": reasons,
        "per_agency": per_agency,
        "per_kecamatan": per_kecamatan,
        "progress": {
            "active": active_total,
            "target": policy.target,
            "ceiling": policy.ceiling,
            "percent": round(100.0 * active_total / policy.target, 1) if policy.target else None,
        },
        "enrolments_per_week": weeks,
        "dead_letters": dead_letters,
        "dead_letters_open": open_letters,  # neither replayed nor discarded yet
        "outbox_unpublished": unpublished,
        "last_processed_at": None if last_processed is None else last_processed.isoformat(),
    }


@dataclass(frozen=True)
class PeriodBilling:
    """Invoiced, paid and outstanding amounts of one period (net of credit notes).

    Outstanding is the net amount less what was paid; it is overdue after the 15th.
    """

    period: str
    invoices: int
    participants: int
    amount: int
    paid: int
    outstanding: int
    due_date: dt.date
    overdue: bool
    months_in_arrears: int  # due dates passed unpaid (domain.invoicing.months_in_arrears)


@dataclass(frozen=True)
class BillingFigures:
    """The billing part of `jamsos report`."""

    periods: list[PeriodBilling]
    unpaid_after_due: list[InvoiceRow]
    latest_by_agency: list[AgencyLine]


async def billing_figures(conn: asyncpg.Connection, today: dt.date) -> BillingFigures:
    """Per period: net invoiced, paid and outstanding; unpaid invoices past their due date."""
    rows = await conn.fetch(
        """
        SELECT period, count(*) AS invoices, sum(participants)::bigint AS participants,
               sum(amount)::bigint AS amount, coalesce(sum(p.paid), 0)::bigint AS paid
        FROM invoices
        LEFT JOIN (SELECT invoice_no, sum(amount) AS paid FROM payments GROUP BY 1) p
            USING (invoice_no)
        GROUP BY period ORDER BY period
        """
    )
    periods: list[PeriodBilling] = []
    for r in rows:
        period = Period.parse(r["period"])
        due = due_date(period)
        outstanding = r["amount"] - r["paid"]  # credit notes lower what is still owed
        periods.append(
            PeriodBilling(
                period=r["period"],
                invoices=r["invoices"],
                participants=r["participants"],
                amount=r["amount"],
                paid=r["paid"],
                outstanding=outstanding,
                due_date=due,
                overdue=outstanding > 0 and today > due,
                months_in_arrears=months_in_arrears(period, today) if outstanding > 0 else 0,
            )
        )
    overdue = [p.period for p in periods if p.overdue]
    unpaid = await conn.fetch(
        "SELECT " + INVOICE_COLUMNS + " FROM invoices"
        " WHERE status = 'ISSUED' AND kind <> 'CREDIT' AND period = ANY($1::text[])"
        " ORDER BY period, payer_code, seq",
        overdue,
    )
    latest: list[AgencyLine] = []
    if periods:
        latest = await _period_by_agency(conn, periods[-1].period)
    return BillingFigures(periods, [invoice_row(r) for r in unpaid], latest)


async def _period_by_agency(conn: asyncpg.Connection, period: str) -> list[AgencyLine]:
    rows = await conn.fetch(
        """
        SELECT l.agency_code, coalesce(a.name, l.agency_code) AS agency_name, l.funding_source,
               sum(l.participants)::int AS participants, sum(l.jkk)::bigint AS jkk,
               sum(l.jkm)::bigint AS jkm, sum(l.amount)::bigint AS amount
        FROM invoice_lines l JOIN invoices i USING (invoice_no)
        LEFT JOIN agencies a ON a.code = l.agency_code
        WHERE i.period = $1
        GROUP BY l.agency_code, a.name, l.funding_source
        ORDER BY l.agency_code, l.funding_source
        """,
        period,
    )
    return [AgencyLine(**dict(r)) for r in rows]
