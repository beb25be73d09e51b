"""Read SQL of billing: invoice list and detail, per-participant export, reconciliation figures
and the billing part of `jamsos report`. Reads skip the model: plain SQL into plain values."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from jamsos.domain.invoicing import due_date
from jamsos.domain.period import Period
from jamsos.domain.reconciliation import AgencyCounts, PeriodFigures, Sums
from jamsos.domain.tariff import Tariff
from jamsos_schemas import topics


@dataclass(frozen=True)
class InvoiceRow:
    """One invoice as listed."""

    invoice_no: str
    kind: str
    payer_code: str
    period: str
    seq: int
    issued_at: dt.datetime
    participants: int
    jkk: int
    jkm: int
    amount: int
    status: str
    paid_at: dt.datetime | None


@dataclass(frozen=True)
class AgencyLine:
    """An invoice line with the agency's name (when it is registered)."""

    agency_code: str
    agency_name: str
    funding_source: str
    participants: int
    jkk: int
    jkm: int
    amount: int


@dataclass(frozen=True)
class InvoiceDetail:
    """An invoice with its lines, for `invoice show` and the PDF."""

    invoice: InvoiceRow
    lines: list[AgencyLine]


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


@dataclass(frozen=True)
class BillingFigures:
    """The billing part of `jamsos report`."""

    periods: list[PeriodBilling]
    unpaid_after_due: list[InvoiceRow]
    latest_by_agency: list[AgencyLine]


def _invoice(r: asyncpg.Record) -> InvoiceRow:
    return InvoiceRow(**{k: r[k] for k in InvoiceRow.__dataclass_fields__})


async def list_invoices(conn: asyncpg.Connection, period: Period | None = None) -> list[InvoiceRow]:
    """Invoices, optionally of one period, by period and number."""
    rows = await conn.fetch(
        "SELECT invoice_no, kind, payer_code, period, seq, issued_at, participants, jkk, jkm,"
        " amount, status, paid_at FROM invoices"
        " WHERE $1::text IS NULL OR period = $1 ORDER BY period, payer_code, seq",
        None if period is None else str(period),
    )
    return [_invoice(r) for r in rows]


async def invoices_of_request(conn: asyncpg.Connection, request_id: str) -> list[InvoiceRow]:
    """The invoices one billing run issued."""
    rows = await conn.fetch(
        "SELECT invoice_no, kind, payer_code, period, seq, issued_at, participants, jkk, jkm,"
        " amount, status, paid_at FROM invoices"
        " WHERE request_id = $1 ORDER BY payer_code, seq",
        request_id,
    )
    return [_invoice(r) for r in rows]


async def run_outcome(conn: asyncpg.Connection, request_id: str) -> tuple[str, str | None] | None:
    """(outcome, detail) of a processed billing run request; None while not processed."""
    row = await conn.fetchrow(
        "SELECT outcome, detail FROM billing_runs WHERE request_id = $1", request_id
    )
    return None if row is None else (row["outcome"], row["detail"])


async def run_processed(conn: asyncpg.Connection, request_id: str) -> bool:
    """Whether the billing service has processed this run request."""
    found = await conn.fetchval("SELECT true FROM billing_runs WHERE request_id = $1", request_id)
    return bool(found)


async def terminations_processed(conn: asyncpg.Connection, request_ids: Sequence[str]) -> bool:
    """Whether the enrolment side has processed every one of these termination requests."""
    done = await conn.fetchval(
        "SELECT count(*) = cardinality($1::text[]) FROM termination_requests"
        " WHERE request_id = ANY($1::text[])",
        list(request_ids),
    )
    return bool(done)


async def active_participants(conn: asyncpg.Connection, limit: int) -> list[tuple[str, str]]:
    """(NIK, agency) of the first `limit` active participants by membership number."""
    rows = await conn.fetch(
        "SELECT nik, agency_code FROM participants WHERE status = 'ACTIVE'"
        " ORDER BY membership_no LIMIT $1",
        limit,
    )
    return [(r["nik"], r["agency_code"]) for r in rows]


async def submission_decided(
    conn: asyncpg.Connection, agency_code: str, submission_id: str
) -> bool:
    """Whether this submission has an outcome (or is held)."""
    decided = await conn.fetchval(
        "SELECT status <> 'RECEIVED' FROM submissions"
        " WHERE agency_code = $1 AND submission_id = $2",
        agency_code,
        submission_id,
    )
    return bool(decided)


async def covered_count(conn: asyncpg.Connection) -> int:
    """Coverage periods in the billing ledger."""
    value: int = await conn.fetchval("SELECT count(*) FROM coverage")
    return value


async def invoice_detail(conn: asyncpg.Connection, invoice_no: str) -> InvoiceDetail | None:
    """An invoice and its lines per agency and funding source."""
    row = await conn.fetchrow(
        "SELECT invoice_no, kind, payer_code, period, seq, issued_at, participants, jkk, jkm,"
        " amount, status, paid_at FROM invoices WHERE invoice_no = $1",
        invoice_no,
    )
    if row is None:
        return None
    lines = await conn.fetch(
        """
        SELECT l.agency_code, coalesce(a.name, l.agency_code) AS agency_name, l.funding_source,
               l.participants, l.jkk, l.jkm, l.amount
        FROM invoice_lines l LEFT JOIN agencies a ON a.code = l.agency_code
        WHERE l.invoice_no = $1 ORDER BY l.agency_code, l.funding_source
        """,
        invoice_no,
    )
    return InvoiceDetail(_invoice(row), [AgencyLine(**dict(r)) for r in lines])


async def copy_charge_lines(conn: asyncpg.Connection, invoice_no: str, path: Path) -> int:
    """Write the invoice's per-participant lines to `path` as CSV (Indonesian headers).

    On a credit note the credited charges appear with negative amounts. Returns the line count.
    """
    status = await conn.copy_from_query(
        """
        SELECT $1::text AS no_tagihan, ch.period AS periode, ch.membership_no AS no_kepesertaan,
               ch.nik, p.full_name AS nama, ch.agency_code AS opd,
               ch.funding_source AS sumber_dana,
               CASE WHEN ch.credit_invoice_no = $1 THEN -ch.jkk ELSE ch.jkk END AS jkk,
               CASE WHEN ch.credit_invoice_no = $1 THEN -ch.jkm ELSE ch.jkm END AS jkm,
               CASE WHEN ch.credit_invoice_no = $1 THEN -ch.amount ELSE ch.amount END AS jumlah
        FROM charges ch LEFT JOIN participants p ON p.membership_no = ch.membership_no
        WHERE ch.invoice_no = $1 OR ch.credit_invoice_no = $1
        ORDER BY ch.agency_code, ch.funding_source, ch.membership_no
        """,
        invoice_no,
        output=str(path),
        format="csv",
        header=True,
    )
    return int(str(status).rsplit(" ", 1)[-1])


# --- reconciliation -------------------------------------------------------------------------

_OUTCOME_TOPICS = [topics.ENROLLED, topics.DUPLICATE, topics.REJECTED, topics.REVIEW_REQUIRED]


async def agency_counts(conn: asyncpg.Connection, stale_before: dt.datetime) -> list[AgencyCounts]:
    """Submissions per agency by status, and the submissions with an outcome event."""
    rows = await conn.fetch(
        """
        WITH subs AS (
            SELECT agency_code, count(*) AS submitted,
                   count(*) FILTER (WHERE status = 'ENROLLED') AS enrolled,
                   count(*) FILTER (WHERE status = 'DUPLICATE') AS duplicate,
                   count(*) FILTER (WHERE status = 'REJECTED') AS rejected,
                   count(*) FILTER (WHERE status = 'REVIEW') AS held,
                   count(*) FILTER (WHERE status = 'RECEIVED') AS in_flight,
                   count(*) FILTER (WHERE status = 'RECEIVED' AND received_at < $1) AS stale
            FROM submissions GROUP BY agency_code
        ), events AS (
            SELECT v ->> 'agency_code' AS agency_code,
                   count(DISTINCT v ->> 'submission_id') AS with_outcome_event
            FROM (SELECT convert_from(value, 'UTF8')::jsonb AS v
                  FROM outbox WHERE topic = ANY($2::text[])) o
            GROUP BY 1
        ), codes AS (
            SELECT code AS agency_code FROM agencies
            UNION SELECT agency_code FROM subs UNION SELECT agency_code FROM events
        )
        SELECT k.agency_code,
               coalesce(s.submitted, 0) AS submitted, coalesce(s.enrolled, 0) AS enrolled,
               coalesce(s.duplicate, 0) AS duplicate, coalesce(s.rejected, 0) AS rejected,
               coalesce(s.held, 0) AS held, coalesce(s.in_flight, 0) AS in_flight,
               coalesce(s.stale, 0) AS stale,
               coalesce(e.with_outcome_event, 0) AS with_outcome_event
        FROM codes k LEFT JOIN subs s USING (agency_code) LEFT JOIN events e USING (agency_code)
        ORDER BY k.agency_code
        """,
        stale_before,
        _OUTCOME_TOPICS,
    )
    return [AgencyCounts(**dict(r)) for r in rows]


async def billed_periods(conn: asyncpg.Connection) -> list[Period]:
    """Every period with charges or invoices."""
    rows = await conn.fetch(
        "SELECT period FROM invoices UNION SELECT period FROM charges ORDER BY period"
    )
    return [Period.parse(r["period"]) for r in rows]


def _sums(r: asyncpg.Record, prefix: str) -> Sums:
    return Sums(
        participants=r[f"{prefix}_n"] or 0,
        jkk=r[f"{prefix}_jkk"] or 0,
        jkm=r[f"{prefix}_jkm"] or 0,
        amount=r[f"{prefix}_amount"] or 0,
    )


async def period_figures(conn: asyncpg.Connection, period: Period, tariff: Tariff) -> PeriodFigures:
    """Covered memberships, charges, credits and invoice totals of one period."""
    r = await conn.fetchrow(
        """
        SELECT
          (SELECT count(DISTINCT membership_no) FROM coverage
           WHERE payer_code IS NOT NULL AND coverage_start <= $2
             AND (coverage_end IS NULL OR coverage_end >= $3)) AS covered,
          ch.*, inv.*,
          (SELECT count(*) FROM (
              SELECT membership_no FROM charges
              WHERE period = $1 AND credit_invoice_no IS NULL
              GROUP BY membership_no HAVING count(*) > 1) d) AS duplicates
        FROM (
          SELECT count(*) AS charged_n, sum(jkk) AS charged_jkk, sum(jkm) AS charged_jkm,
                 sum(amount) AS charged_amount,
                 count(*) FILTER (WHERE credit_invoice_no IS NOT NULL) AS credited_n,
                 sum(jkk) FILTER (WHERE credit_invoice_no IS NOT NULL) AS credited_jkk,
                 sum(jkm) FILTER (WHERE credit_invoice_no IS NOT NULL) AS credited_jkm,
                 sum(amount) FILTER (WHERE credit_invoice_no IS NOT NULL) AS credited_amount,
                 count(*) FILTER (WHERE jkk <> $4 OR jkm <> $5 OR amount <> $4 + $5)
                     AS off_tariff
          FROM charges WHERE period = $1
        ) ch, (
          SELECT sum(participants) FILTER (WHERE kind <> 'CREDIT')::bigint AS debit_n,
                 sum(jkk) FILTER (WHERE kind <> 'CREDIT')::bigint AS debit_jkk,
                 sum(jkm) FILTER (WHERE kind <> 'CREDIT')::bigint AS debit_jkm,
                 sum(amount) FILTER (WHERE kind <> 'CREDIT')::bigint AS debit_amount,
                 sum(participants) FILTER (WHERE kind = 'CREDIT')::bigint AS credit_n,
                 sum(jkk) FILTER (WHERE kind = 'CREDIT')::bigint AS credit_jkk,
                 sum(jkm) FILTER (WHERE kind = 'CREDIT')::bigint AS credit_jkm,
                 sum(amount) FILTER (WHERE kind = 'CREDIT')::bigint AS credit_amount
          FROM invoices WHERE period = $1
        ) inv
        """,
        str(period),
        period.first_day,
        period.last_day,
        tariff.jkk,
        tariff.jkm,
    )
    assert r is not None
    return PeriodFigures(
        period=str(period),
        tariff_total=tariff.total,
        covered=r["covered"],
        charged=_sums(r, "charged"),
        credited=_sums(r, "credited"),
        debit_invoices=_sums(r, "debit"),
        credit_invoices=_sums(r, "credit"),
        duplicates=r["duplicates"],
        off_tariff=r["off_tariff"],
    )


InvoiceKey = tuple[str, str, str]  # (invoice_no, agency_code, funding_source)


async def invoice_figures(
    conn: asyncpg.Connection, period: Period
) -> tuple[dict[str, Sums], dict[InvoiceKey, Sums], dict[InvoiceKey, Sums]]:
    """Invoice totals, invoice lines, and charges grouped as lines (negated on credit notes)."""
    headers = await conn.fetch(
        "SELECT invoice_no, participants, jkk, jkm, amount FROM invoices WHERE period = $1",
        str(period),
    )
    lines = await conn.fetch(
        """
        SELECT l.invoice_no, l.agency_code, l.funding_source, l.participants, l.jkk, l.jkm,
               l.amount
        FROM invoice_lines l JOIN invoices i USING (invoice_no) WHERE i.period = $1
        """,
        str(period),
    )
    charges = await conn.fetch(
        """
        SELECT invoice_no, agency_code, funding_source, count(*)::int AS participants,
               sum(jkk)::bigint AS jkk, sum(jkm)::bigint AS jkm, sum(amount)::bigint AS amount
        FROM charges WHERE period = $1 GROUP BY 1, 2, 3
        UNION ALL
        SELECT credit_invoice_no, agency_code, funding_source, -count(*)::int,
               -sum(jkk)::bigint, -sum(jkm)::bigint, -sum(amount)::bigint
        FROM charges WHERE period = $1 AND credit_invoice_no IS NOT NULL GROUP BY 1, 2, 3
        """,
        str(period),
    )

    def sums(r: asyncpg.Record) -> Sums:
        return Sums(r["participants"], r["jkk"], r["jkm"], r["amount"])

    return (
        {r["invoice_no"]: sums(r) for r in headers},
        {(r["invoice_no"], r["agency_code"], r["funding_source"]): sums(r) for r in lines},
        {(r["invoice_no"], r["agency_code"], r["funding_source"]): sums(r) for r in charges},
    )


async def ledger_behind(conn: asyncpg.Connection) -> int:
    """Participants whose current coverage period is missing from the ledger or ends otherwise."""
    value: int = await conn.fetchval(
        """
        SELECT count(*) FROM participants p
        WHERE NOT EXISTS (
            SELECT 1 FROM coverage c
            WHERE c.membership_no = p.membership_no AND c.coverage_start = p.coverage_start
              AND c.payer_code IS NOT NULL
              AND c.coverage_end IS NOT DISTINCT FROM p.coverage_end)
        """
    )
    return value


# --- report ---------------------------------------------------------------------------------


async def billing_figures(conn: asyncpg.Connection, today: dt.date) -> BillingFigures:
    """Per period: net invoiced, paid and outstanding; unpaid invoices past their due date."""
    rows = await conn.fetch(
        """
        SELECT period, count(*) AS invoices, sum(participants)::bigint AS participants,
               sum(amount)::bigint AS amount,
               coalesce(sum(amount) FILTER (WHERE status = 'PAID'), 0)::bigint AS paid
        FROM invoices GROUP BY period ORDER BY period
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
            )
        )
    overdue = [p.period for p in periods if p.overdue]
    unpaid = await conn.fetch(
        "SELECT invoice_no, kind, payer_code, period, seq, issued_at, participants, jkk, jkm,"
        " amount, status, paid_at FROM invoices"
        " WHERE status = 'ISSUED' AND kind <> 'CREDIT' AND period = ANY($1::text[])"
        " ORDER BY period, payer_code, seq",
        overdue,
    )
    latest: list[AgencyLine] = []
    if periods:
        latest = await _period_by_agency(conn, periods[-1].period)
    return BillingFigures(periods, [_invoice(r) for r in unpaid], latest)


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


def by_funding_source(lines: Sequence[AgencyLine]) -> dict[str, int]:
    """Amounts per funding source (budget line), for the report and the PDF."""
    result: dict[str, int] = {}
    for line in lines:
        result[line.funding_source] = result.get(line.funding_source, 0) + line.amount
    return result


async def billing_report(conn: asyncpg.Connection, today: dt.date) -> dict[str, Any]:
    """The billing part of `jamsos report` as JSON-ready values, with unpaid-period warnings."""
    figures = await billing_figures(conn, today)
    warnings = [
        f"period {p.period}: Rp{p.outstanding:,} unpaid after the due date"
        f" {p.due_date.isoformat()}".replace(",", ".")
        for p in figures.periods
        if p.overdue
    ]
    latest = figures.periods[-1].period if figures.periods else None
    return {
        "periods": [dataclasses.asdict(p) for p in figures.periods],
        "warnings": warnings,
        "unpaid_after_due": [dataclasses.asdict(i) for i in figures.unpaid_after_due],
        "latest_period": latest,
        "latest_by_agency": [dataclasses.asdict(line) for line in figures.latest_by_agency],
        "latest_by_funding_source": by_funding_source(figures.latest_by_agency),
    }


def print_billing_report(console: Console, data: Mapping[str, Any]) -> None:
    """Render `billing_report` values as tables, warnings first."""
    from jamsos.adapters.invoice_documents import number, rupiah

    for warning in data["warnings"]:
        console.print(f"[bold red]WARNING[/bold red] {warning}", highlight=False)
    periods = Table(
        "period",
        "invoices",
        "participants (net)",
        "amount (net)",
        "paid",
        "outstanding",
        "due",
        title="Billing per period",
    )
    for p in data["periods"]:
        due = p["due_date"] if isinstance(p["due_date"], str) else p["due_date"].isoformat()
        periods.add_row(
            p["period"],
            str(p["invoices"]),
            number(p["participants"]),
            rupiah(p["amount"]),
            rupiah(p["paid"]),
            rupiah(p["outstanding"]),
            f"{due}{' OVERDUE' if p['overdue'] else ''}",
        )
    console.print(periods)
    if data["latest_period"]:
        agencies = Table(
            "agency",
            "funding",
            "participants",
            "amount",
            title=f"Billed for {data['latest_period']} per agency (net)",
        )
        for line in data["latest_by_agency"]:
            agencies.add_row(
                line["agency_code"],
                line["funding_source"],
                number(line["participants"]),
                rupiah(line["amount"]),
            )
        for source, amount in data["latest_by_funding_source"].items():
            agencies.add_row("", f"Σ {source}", "", rupiah(amount), style="bold")
        console.print(agencies)
