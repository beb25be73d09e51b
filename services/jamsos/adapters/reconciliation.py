"""Read SQL of `jamsos reconcile`: submissions and outcome events per agency, and each billed
period's coverage, charges, credits and invoices, and the capacity counters beside the active
participants (the checks are domain/reconciliation.py)."""

from __future__ import annotations

import datetime as dt

import asyncpg

from jamsos.domain.period import Period
from jamsos.domain.reconciliation import (
    AgencyCounts,
    CapacityCount,
    InvoiceKey,
    PeriodFigures,
    Sums,
)
from jamsos.domain.tariff import Tariff
from jamsos_schemas import topics

_OUTCOME_TOPICS = [topics.ENROLLED, topics.DUPLICATE, topics.REJECTED, topics.REVIEW_REQUIRED]
# The outcome event each decided status must have (a REVIEW later decided has both).
_STATUS_TOPICS = {
    "ENROLLED": topics.ENROLLED,
    "DUPLICATE": topics.DUPLICATE,
    "REJECTED": topics.REJECTED,
    "REVIEW": topics.REVIEW_REQUIRED,
}


async def agency_counts(conn: asyncpg.Connection, stale_before: dt.datetime) -> list[AgencyCounts]:
    """Submissions per agency by status, the submissions with an outcome event, and those whose
    status has no outcome event of its kind."""
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
        ), ev AS (
            SELECT DISTINCT topic, v ->> 'agency_code' AS agency_code,
                   v ->> 'submission_id' AS submission_id
            FROM (SELECT topic, convert_from(value, 'UTF8')::jsonb AS v
                  FROM outbox WHERE topic = ANY($2::text[])) o
        ), events AS (
            SELECT agency_code, count(DISTINCT submission_id) AS with_outcome_event
            FROM ev GROUP BY 1
        ), unmatched AS (
            SELECT s.agency_code, count(*) AS status_without_event
            FROM submissions s
            JOIN unnest($3::text[], $4::text[]) AS x(status, topic) ON x.status = s.status
            LEFT JOIN ev ON ev.topic = x.topic AND ev.agency_code = s.agency_code
                        AND ev.submission_id = s.submission_id
            WHERE ev.topic IS NULL
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
               coalesce(e.with_outcome_event, 0) AS with_outcome_event,
               coalesce(u.status_without_event, 0) AS status_without_event
        FROM codes k LEFT JOIN subs s USING (agency_code) LEFT JOIN events e USING (agency_code)
             LEFT JOIN unmatched u USING (agency_code)
        ORDER BY k.agency_code
        """,
        stale_before,
        _OUTCOME_TOPICS,
        list(_STATUS_TOPICS),
        list(_STATUS_TOPICS.values()),
    )
    return [AgencyCounts(**dict(r)) for r in rows]


async def capacity_counts(conn: asyncpg.Connection) -> list[CapacityCount]:
    """Every capacity row and every scope with active participants (the regency always):
    the counter (None: no row) and the active participants it should equal."""
    rows = await conn.fetch(
        """
        WITH active AS (  -- one scan; the empty grouping set (the regency) gives a row always
            SELECT CASE WHEN grouping(agency_code) = 1 THEN 'regency'
                        ELSE 'agency:' || agency_code END AS scope,
                   count(*)::int AS n
            FROM participants WHERE status = 'ACTIVE' GROUP BY ROLLUP (agency_code)
        )
        SELECT scope, c.used, coalesce(a.n, 0) AS active
        FROM capacity c FULL JOIN active a USING (scope)
        ORDER BY scope COLLATE "C" DESC
        """
    )
    return [CapacityCount(r["scope"], r["used"], r["active"]) for r in rows]


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
