"""SQL of accrual: the charges of a period, set-based (the rule itself is domain/accrual.py).

Accrual and credits are one statement each per period, never one per participant; billing runs
of one period are serialised by an advisory lock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import asyncpg

from jamsos.adapters.locks import AdvisoryLock
from jamsos.domain.invoicing import Line
from jamsos.domain.period import Period
from jamsos.domain.tariff import Tariff


async def lock_period(conn: asyncpg.Connection, period: Period) -> None:
    """Serialise billing transactions of one period (released at commit)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        AdvisoryLock.BILLING_PERIOD,
        period.year * 100 + period.month,
    )


async def ledger_changes(conn: asyncpg.Connection) -> tuple[int, int]:
    """The coverage and charges change counters now (migration 0007)."""
    row = await conn.fetchrow(
        "SELECT coalesce(sum(changes) FILTER (WHERE source = 'coverage'), 0)::bigint AS coverage,"
        " coalesce(sum(changes) FILTER (WHERE source = 'charges'), 0)::bigint AS charges"
        " FROM ledger_changes"
    )
    assert row is not None
    return row["coverage"], row["charges"]


async def unchanged_since_billed(
    conn: asyncpg.Connection, period: Period, changes: tuple[int, int]
) -> bool:
    """Whether neither coverage nor charges were written since `period`'s last completed run:
    then a run would charge and credit nothing (the caller holds the period lock)."""
    row = await conn.fetchrow(
        "SELECT coverage_changes, charges_changes FROM billed_periods WHERE period = $1",
        str(period),
    )
    return row is not None and (row["coverage_changes"], row["charges_changes"]) == changes


async def record_billed(conn: asyncpg.Connection, period: Period, coverage_changes: int) -> None:
    """Remember the counters a completed run of `period` leaves: coverage as it started,
    charges as they are now in its transaction (its own writes included)."""
    await conn.execute(
        """
        INSERT INTO billed_periods (period, coverage_changes, charges_changes)
        SELECT $1, $2, coalesce(sum(changes), 0) FROM ledger_changes WHERE source = 'charges'
        ON CONFLICT (period) DO UPDATE
        SET coverage_changes = EXCLUDED.coverage_changes,
            charges_changes = EXCLUDED.charges_changes
        """,
        str(period),
        coverage_changes,
    )


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
