"""Write-side SQL of billing: the coverage ledger, billing runs, charges, credits and invoices.

Accrual and credits are one set-based statement each per period, never one per participant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg

from jamsos.domain.invoicing import Invoice, Line, PayerHistory
from jamsos.domain.period import Period
from jamsos.domain.tariff import Tariff

_PERIOD_LOCK = 7_301_904  # advisory lock class: one billing transaction per period at a time


@dataclass(frozen=True)
class Enrolled:
    """The enrolment side of one coverage period, from `participant.enrolled`."""

    membership_no: str
    coverage_start: dt.date
    nik: str
    agency_code: str
    payer_code: str
    funding_source: str
    enrolled_at: dt.datetime


@dataclass(frozen=True)
class Terminated:
    """The end of one coverage period, from `participant.terminated`."""

    membership_no: str
    coverage_start: dt.date
    nik: str
    coverage_end: dt.date
    terminated_at: dt.datetime


@dataclass(frozen=True)
class PaidInvoice:
    """An invoice's payment state after `invoice pay`."""

    invoice_no: str
    kind: str
    status: str
    paid_at: dt.datetime | None
    changed: bool


async def record_enrolments(conn: asyncpg.Connection, rows: Sequence[Enrolled]) -> None:
    """Fill the enrolment columns of each coverage period unless a later enrolment is there.

    `rows` must hold one row per (membership_no, coverage_start).
    """
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO coverage AS c (membership_no, coverage_start, nik, agency_code, payer_code,
                                   funding_source, enrolled_at)
        SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::timestamptz[])
        ON CONFLICT (membership_no, coverage_start) DO UPDATE SET
            nik = EXCLUDED.nik, agency_code = EXCLUDED.agency_code,
            payer_code = EXCLUDED.payer_code, funding_source = EXCLUDED.funding_source,
            enrolled_at = EXCLUDED.enrolled_at
        WHERE c.enrolled_at IS NULL OR EXCLUDED.enrolled_at > c.enrolled_at
        """,
        [r.membership_no for r in rows],
        [r.coverage_start for r in rows],
        [r.nik for r in rows],
        [r.agency_code for r in rows],
        [r.payer_code for r in rows],
        [r.funding_source for r in rows],
        [r.enrolled_at for r in rows],
    )


async def record_terminations(conn: asyncpg.Connection, rows: Sequence[Terminated]) -> None:
    """Fill the termination columns of each coverage period unless a later one is there.

    The row is created if the enrolled event has not arrived yet. One row per key.
    """
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO coverage AS c (membership_no, coverage_start, nik, terminated_at, ended_on)
        SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::timestamptz[], $5::date[])
        ON CONFLICT (membership_no, coverage_start) DO UPDATE SET
            terminated_at = EXCLUDED.terminated_at, ended_on = EXCLUDED.ended_on
        WHERE c.terminated_at IS NULL OR EXCLUDED.terminated_at > c.terminated_at
        """,
        [r.membership_no for r in rows],
        [r.coverage_start for r in rows],
        [r.nik for r in rows],
        [r.terminated_at for r in rows],
        [r.coverage_end for r in rows],
    )


async def begin_run(
    conn: asyncpg.Connection,
    request_id: str,
    content_hash: str,
    period: Period,
    requested_at: dt.datetime,
    now: dt.datetime,
) -> bool:
    """Record a run request as DONE (in the caller's transaction); False if already seen."""
    status = await conn.execute(
        """
        INSERT INTO billing_runs (request_id, content_hash, period, requested_at, processed_at,
                                  outcome)
        VALUES ($1, $2, $3, $4, $5, 'DONE')
        ON CONFLICT (request_id) DO NOTHING
        """,
        request_id,
        content_hash,
        str(period),
        requested_at,
        now,
    )
    return bool(status == "INSERT 0 1")


async def run_hash(conn: asyncpg.Connection, request_id: str) -> str | None:
    """The content hash of a recorded run request."""
    value: str | None = await conn.fetchval(
        "SELECT content_hash FROM billing_runs WHERE request_id = $1", request_id
    )
    return value


async def fail_run(conn: asyncpg.Connection, request_id: str, detail: str) -> None:
    """Mark a recorded run request as FAILED, with why."""
    await conn.execute(
        "UPDATE billing_runs SET outcome = 'FAILED', detail = $2 WHERE request_id = $1",
        request_id,
        detail,
    )


async def lock_period(conn: asyncpg.Connection, period: Period) -> None:
    """Serialise billing transactions of one period (released at commit)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, $2)", _PERIOD_LOCK, period.year * 100 + period.month
    )


async def invoice_history(conn: asyncpg.Connection, period: Period) -> dict[str, PayerHistory]:
    """Per payer: the last invoice sequence of `period` and whether a REGULAR one exists."""
    rows = await conn.fetch(
        """
        SELECT payer_code, max(seq) AS last_seq, bool_or(kind = 'REGULAR') AS has_regular
        FROM invoices WHERE period = $1 GROUP BY payer_code
        """,
        str(period),
    )
    return {r["payer_code"]: PayerHistory(r["last_seq"], r["has_regular"]) for r in rows}


async def payers(conn: asyncpg.Connection, period: Period) -> list[str]:
    """Every payer that may be charged or credited for `period`."""
    rows = await conn.fetch(
        """
        SELECT payer_code FROM coverage WHERE payer_code IS NOT NULL
        UNION
        SELECT payer_code FROM charges WHERE period = $1
        """,
        str(period),
    )
    return sorted(r["payer_code"] for r in rows)


def _lines(rows: Sequence[asyncpg.Record]) -> dict[str, list[Line]]:
    result: dict[str, list[Line]] = {}
    for r in rows:
        result.setdefault(r["invoice_no"], []).append(
            Line(r["agency_code"], r["funding_source"], r["participants"], r["jkk"], r["jkm"])
        )
    return result


async def accrue(
    conn: asyncpg.Connection,
    period: Period,
    tariff: Tariff,
    numbers: Mapping[str, str],
    now: dt.datetime,
) -> dict[str, list[Line]]:
    """Charge every covered, uncharged membership once; returns the new lines per invoice number.

    The accrual rule (domain/accrual.py) as one statement: a complete coverage row covering
    all of the period, the latest start per membership, under the payer's invoice number
    from `numbers`. The unique index on uncredited (membership, period) is the guarantee;
    the NOT EXISTS only spares the conflicts on a re-run.
    """
    rows = await conn.fetch(
        """
        WITH numbers AS (
            SELECT * FROM unnest($6::text[], $7::text[]) AS t(payer_code, invoice_no)
        ), covered AS (
            SELECT DISTINCT ON (c.membership_no) c.membership_no, c.coverage_start, c.nik,
                   c.agency_code, c.payer_code, c.funding_source
            FROM coverage c
            WHERE c.payer_code IS NOT NULL
              AND c.coverage_start <= $2 AND (c.coverage_end IS NULL OR c.coverage_end >= $3)
            ORDER BY c.membership_no, c.coverage_start DESC
        ), inserted AS (
            INSERT INTO charges (membership_no, period, coverage_start, nik, agency_code,
                                 payer_code, funding_source, jkk, jkm, amount, accrued_at,
                                 invoice_no)
            SELECT k.membership_no, $1, k.coverage_start, k.nik, k.agency_code, k.payer_code,
                   k.funding_source, $4::int, $5::int, $4::int + $5::int, $8, n.invoice_no
            FROM covered k JOIN numbers n USING (payer_code)
            WHERE NOT EXISTS (
                SELECT 1 FROM charges x
                WHERE x.membership_no = k.membership_no AND x.period = $1
                  AND x.credit_invoice_no IS NULL)
            ON CONFLICT (membership_no, period) WHERE credit_invoice_no IS NULL DO NOTHING
            RETURNING invoice_no, agency_code, funding_source, jkk, jkm
        )
        SELECT invoice_no, agency_code, funding_source, count(*)::int AS participants,
               sum(jkk)::bigint AS jkk, sum(jkm)::bigint AS jkm
        FROM inserted GROUP BY invoice_no, agency_code, funding_source
        """,
        str(period),
        period.first_day,
        period.last_day,
        tariff.jkk,
        tariff.jkm,
        list(numbers),
        list(numbers.values()),
        now,
    )
    return _lines(rows)


async def credit(
    conn: asyncpg.Connection, period: Period, numbers: Mapping[str, str], now: dt.datetime
) -> dict[str, list[Line]]:
    """Credit every uncredited charge of `period` that no coverage covers any more.

    Returns the credited lines (positive) per credit-note number.
    """
    rows = await conn.fetch(
        """
        WITH numbers AS (
            SELECT * FROM unnest($4::text[], $5::text[]) AS t(payer_code, invoice_no)
        ), credited AS (
            UPDATE charges ch SET credit_invoice_no = n.invoice_no, credited_at = $6
            FROM numbers n
            WHERE ch.period = $1 AND ch.credit_invoice_no IS NULL
              AND ch.payer_code = n.payer_code
              AND NOT EXISTS (
                  SELECT 1 FROM coverage c
                  WHERE c.membership_no = ch.membership_no AND c.payer_code IS NOT NULL
                    AND c.coverage_start <= $2
                    AND (c.coverage_end IS NULL OR c.coverage_end >= $3))
            RETURNING ch.credit_invoice_no AS invoice_no, ch.agency_code, ch.funding_source,
                      ch.jkk, ch.jkm
        )
        SELECT invoice_no, agency_code, funding_source, count(*)::int AS participants,
               sum(jkk)::bigint AS jkk, sum(jkm)::bigint AS jkm
        FROM credited GROUP BY invoice_no, agency_code, funding_source
        """,
        str(period),
        period.first_day,
        period.last_day,
        list(numbers),
        list(numbers.values()),
        now,
    )
    return _lines(rows)


async def insert_invoices(
    conn: asyncpg.Connection, invoices: Sequence[Invoice], request_id: str, issued_at: dt.datetime
) -> None:
    """Store invoices and their lines."""
    if not invoices:
        return
    await conn.execute(
        """
        INSERT INTO invoices (invoice_no, payer_code, period, seq, kind, request_id, issued_at,
                              participants, jkk, jkm, amount)
        SELECT i, p, pe, s, k, $9, $10, n, jkk, jkm, jkk + jkm
        FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[],
                    $7::bigint[], $8::bigint[]) AS t(i, p, pe, s, k, n, jkk, jkm)
        """,
        [i.invoice_no for i in invoices],
        [i.payer_code for i in invoices],
        [str(i.period) for i in invoices],
        [i.seq for i in invoices],
        [i.kind.value for i in invoices],
        [i.totals.participants for i in invoices],
        [i.totals.jkk for i in invoices],
        [i.totals.jkm for i in invoices],
        request_id,
        issued_at,
    )
    lines = [(i.invoice_no, line) for i in invoices for line in i.lines]
    await conn.execute(
        """
        INSERT INTO invoice_lines (invoice_no, agency_code, funding_source, participants, jkk,
                                   jkm, amount)
        SELECT i, a, f, n, jkk, jkm, jkk + jkm
        FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::bigint[])
            AS t(i, a, f, n, jkk, jkm)
        """,
        [no for no, _ in lines],
        [line.agency_code for _, line in lines],
        [line.funding_source for _, line in lines],
        [line.participants for _, line in lines],
        [line.jkk for _, line in lines],
        [line.jkm for _, line in lines],
    )


async def mark_paid(
    conn: asyncpg.Connection, invoice_no: str, paid_at: dt.datetime
) -> PaidInvoice | None:
    """Set an ISSUED debit invoice to PAID; None if there is no such invoice number."""
    row = await conn.fetchrow(
        "SELECT kind, status, paid_at FROM invoices WHERE invoice_no = $1 FOR UPDATE", invoice_no
    )
    if row is None:
        return None
    if row["status"] == "PAID" or row["kind"] == "CREDIT":
        return PaidInvoice(invoice_no, row["kind"], row["status"], row["paid_at"], changed=False)
    await conn.execute(
        "UPDATE invoices SET status = 'PAID', paid_at = $2 WHERE invoice_no = $1",
        invoice_no,
        paid_at,
    )
    return PaidInvoice(invoice_no, row["kind"], "PAID", paid_at, changed=True)
