"""SQL of accrual: the charges of a period, set-based (the rule itself is domain/accrual.py).

Accrual and credits are one statement each per period, never one per participant; billing runs
of one period are serialised by an advisory lock. A re-run whose ledger only had coverage rows
inserted or updated since the period's last run looks at the memberships written since then
(`only`; see migration 0011 and written_since), so its cost follows the change, not the ledger.
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
    """Serialise billing transactions of one period (released at commit), and size the
    transaction for its set-based statements: a million coverage rows sort in memory (about
    130 MB; at the default 4 MB the sort spills 74 MB to disk), and JIT compilation, which
    costs more than it saves on these plans, is off."""
    await conn.execute("SET LOCAL work_mem = '256MB'")
    await conn.execute("SET LOCAL jit = off")
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


async def horizon(conn: asyncpg.Connection) -> int:
    """The oldest transaction still running now (64-bit id): whatever was written by an older
    one is committed and visible to every statement after this one."""
    value: int = await conn.fetchval("SELECT txid_snapshot_xmin(txid_current_snapshot())")
    return value


async def written_since(
    conn: asyncpg.Connection, period: Period, changes: tuple[int, int]
) -> list[str] | None:
    """The memberships whose coverage rows were written since `period`'s last completed run,
    if since then charges were not written (`changes` are the counters now) and no coverage
    row was deleted: a run need only look at those. None: look at every membership.

    A row's xmin is the 32-bit id of the transaction that last inserted or updated it (set by
    PostgreSQL itself, triggers or not); it is compared by age with the run's horizon (freezing
    keeps the raw xmin since PostgreSQL 9.4; a wrapped age can only make a membership look
    written: looked at, never missed). A horizon over a billion transactions old is not
    trusted, nor one ahead of this cluster's transaction counter (a restored or replicated
    database starts its counter anew: every new row would look older than the horizon).
    """
    since: int | None = await conn.fetchval(
        """
        SELECT b.horizon FROM billed_periods b
        WHERE b.period = $1 AND b.horizon IS NOT NULL AND b.charges_changes = $2
          AND b.horizon > (SELECT last_xid FROM coverage_deletions)
          AND txid_current() - b.horizon BETWEEN 0 AND 999999999
        """,
        str(period),
        changes[1],
    )
    if since is None:
        return None
    rows = await conn.fetch(
        "SELECT DISTINCT membership_no FROM coverage"
        " WHERE age(xmin) <= age(($1::bigint % 4294967296)::text::xid)",
        since,
    )
    return [r["membership_no"] for r in rows]


async def record_billed(
    conn: asyncpg.Connection, period: Period, coverage_changes: int, since: int
) -> None:
    """Remember what a completed run of `period` leaves: the coverage counter as it started,
    the charges counter as it is now in its transaction (its own writes included), and its
    horizon `since` (taken as it started)."""
    await conn.execute(
        """
        INSERT INTO billed_periods (period, coverage_changes, charges_changes, horizon)
        SELECT $1, $2, coalesce(sum(changes), 0), $3
        FROM ledger_changes WHERE source = 'charges'
        ON CONFLICT (period) DO UPDATE
        SET coverage_changes = EXCLUDED.coverage_changes,
            charges_changes = EXCLUDED.charges_changes, horizon = EXCLUDED.horizon
        """,
        str(period),
        coverage_changes,
        since,
    )


async def payers(
    conn: asyncpg.Connection, period: Period, only: Sequence[str] | None = None
) -> list[str]:
    """Every payer that may be charged or credited for `period` (for the memberships in
    `only`, if given)."""
    # Each side grouped first: as the UNION's input the million rows of `coverage` were hashed
    # in 164 ms, grouped in 86-89 ms (PostgreSQL 15, a first run of 1,000,000, 4 December).
    sql = """
        SELECT payer_code FROM (
            SELECT payer_code FROM coverage c WHERE payer_code IS NOT NULL AND {only_c}
            GROUP BY payer_code) covered
        UNION
        SELECT payer_code FROM (
            SELECT payer_code FROM charges x WHERE period = $1 AND {only_x}
            GROUP BY payer_code) charged
    """
    args: list[object] = [str(period)] if only is None else [str(period), list(only)]
    rows = await conn.fetch(_statement(sql, only, 2, "c", "x"), *args)
    return sorted(r["payer_code"] for r in rows)


def _lines(rows: Sequence[asyncpg.Record]) -> dict[str, list[Line]]:
    result: dict[str, list[Line]] = {}
    for r in rows:
        result.setdefault(r["invoice_no"], []).append(
            Line(r["agency_code"], r["funding_source"], r["participants"], r["jkk"], r["jkm"])
        )
    return result


_SUMS = """
    SELECT invoice_no, agency_code, funding_source, count(*)::int AS participants,
           sum(jkk)::bigint AS jkk, sum(jkm)::bigint AS jkm
    FROM {source} GROUP BY invoice_no, agency_code, funding_source
"""

# The latest coverage per membership is sorted by membership_no COLLATE "C": the same groups
# (the default collation is deterministic, so equal means byte-equal either way) and the same
# pick within each, but a sort by bytes with abbreviated keys instead of strcoll() per
# comparison (a libc collation, even C.UTF-8, is not PostgreSQL's "C"). A million memberships'
# accrual INSERT: 2.51-2.68 -> 2.40-2.49 s (PostgreSQL 15, back to back, 3 December).
_COVERED = """
    WITH numbers AS (
        SELECT * FROM unnest($6::text[], $7::text[]) AS t(payer_code, invoice_no)
    ), covered AS (
        SELECT DISTINCT ON (c.membership_no COLLATE "C") c.membership_no, c.coverage_start,
               c.nik, c.agency_code, c.payer_code, c.funding_source
        FROM coverage c
        WHERE c.payer_code IS NOT NULL AND {only_c}
          AND c.coverage_start <= $2 AND (c.coverage_end IS NULL OR c.coverage_end >= $3)
        ORDER BY c.membership_no COLLATE "C", c.coverage_start DESC
    )
"""

_INSERT = """
        INSERT INTO {target} (membership_no, period, coverage_start, nik, agency_code,
                             payer_code, funding_source, jkk, jkm, amount, accrued_at,
                             invoice_no)
        SELECT k.membership_no, $1, k.coverage_start, k.nik, k.agency_code, k.payer_code,
               k.funding_source, $4::int, $5::int, $4::int + $5::int, $8, n.invoice_no
        FROM covered k JOIN numbers n USING (payer_code)
        WHERE NOT EXISTS (
            SELECT 1 FROM charges x
            WHERE x.membership_no = k.membership_no AND x.period = $1
              AND x.credit_invoice_no IS NULL {probe})
"""

# into `charges`: the lines summed from what the statement inserted (no second read)
_ACCRUE = (
    _COVERED
    + ", inserted AS ("
    + _INSERT
    + " RETURNING invoice_no, agency_code, funding_source, jkk, jkm)"
    + _SUMS.replace("{source}", "inserted")
)
# into a period's new table (first run): the lines are summed from that table after, which
# holds just this statement's rows; cheaper than RETURNING's tuple store (0.15-0.2 s CPU a
# million, README)
_ACCRUE_NEW = _COVERED + _INSERT

_CREDIT = """
    WITH numbers AS (
        SELECT * FROM unnest($4::text[], $5::text[]) AS t(payer_code, invoice_no)
    ), credited AS (
        UPDATE charges ch SET credit_invoice_no = n.invoice_no, credited_at = $6
        FROM numbers n
        WHERE ch.period = $1 AND ch.credit_invoice_no IS NULL AND {only_ch}
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
"""


def _statement(
    sql: str, only: Sequence[str] | None, param: int, *aliases: str, target: str = "charges"
) -> str:
    """`sql` (a constant) over every membership, or over those in `only` (passed as
    parameter number `param`): each `{only_<alias>}` becomes a condition on that alias's
    membership_no, so that each table is read by its index for just those memberships;
    `{target}` is the table charges are written to."""
    conditions = {
        f"only_{alias}": "true" if only is None else f"{alias}.membership_no = ANY(${param})"
        for alias in aliases
    }
    # For a few memberships, `{probe}` keeps NOT EXISTS a look-up per membership (OFFSET 0:
    # not turned into a join): right after a first run the statistics of `charges` still
    # describe an empty table, and the planner then joins the changed memberships with a
    # nested loop over all of them (21 s for 10,000 instead of 0.1 s).
    return sql.format(probe="" if only is None else "OFFSET 0", target=target, **conditions)


async def accrue(
    conn: asyncpg.Connection,
    period: Period,
    tariff: Tariff,
    numbers: Mapping[str, str],
    now: dt.datetime,
    only: Sequence[str] | None = None,
) -> dict[str, list[Line]]:
    """Charge every covered, uncharged membership once (of those in `only`, if given);
    returns the new lines per invoice number.

    The accrual rule (domain/accrual.py) as one statement: a complete coverage row covering
    all of the period, the latest start per membership, under the payer's invoice number
    from `numbers`; the lines are summed from what it inserted. The unique
    index on uncredited (membership, period) is the guarantee: the NOT EXISTS skips what is
    charged, and as runs of a period are serialised by its lock a conflict cannot happen;
    one would fail the run (no ON CONFLICT: its speculative insertion cost ~3 s a million).

    A period without charges yet (no partition of `charges`, migration 0015) is written into
    a new table, which is then attached as its partition: ATTACH builds the indexes by
    sorting, `charges_once` among them, instead of a million index insertions (the partial
    index of credit notes is made with the empty table and stays empty, migration 0021);
    the lines are then summed from that table, which holds only this statement's charges.
    """
    args: list[object] = [
        str(period),
        period.first_day,
        period.last_day,
        tariff.jkk,
        tariff.jkm,
        list(numbers),
        list(numbers.values()),
        now,
    ]
    if only is not None:
        args.append(list(only))
    opened: str | None = await conn.fetchval("SELECT charges_open_period($1)", str(period))
    if opened is None:
        rows = await conn.fetch(_statement(_ACCRUE, only, 9, "c"), *args)
        return _lines(rows)
    table = _quoted(opened)
    await conn.execute(_statement(_ACCRUE_NEW, only, 9, "c", target=table), *args)
    # The new table has no statistics yet (the services may not ANALYZE it), so the planner
    # expects ~46,000 groups instead of a handful and sums a million rows in one process;
    # with parallel workers' costs at zero for this one statement it splits the scan among
    # two workers and itself: 0.35-0.45 -> 0.20-0.26 s for 1,000,000 charges (PostgreSQL 15,
    # back to back, load ~2, 3 December). The table's name is in the statement's text, so
    # its plan is made here, under these settings, not reused from another period's.
    await conn.execute(_PARALLEL)
    rows = await conn.fetch(_SUMS.format(source=table))
    await conn.execute(_SERIAL)
    await conn.execute("SELECT charges_attach_period($1)", str(period))
    return _lines(rows)


_PARALLEL = "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0"
_SERIAL = "SET LOCAL parallel_setup_cost TO DEFAULT; SET LOCAL parallel_tuple_cost TO DEFAULT"


def _quoted(name: str) -> str:
    """A table name the database made (charges_YYYY_MM, in schema public, where
    charges_open_period creates it) as a qualified SQL identifier: a session's own temporary
    table of that name cannot stand in for it."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unexpected table name {name!r}")
    return f'public."{name}"'


async def credit(
    conn: asyncpg.Connection,
    period: Period,
    numbers: Mapping[str, str],
    now: dt.datetime,
    only: Sequence[str] | None = None,
) -> dict[str, list[Line]]:
    """Credit every uncredited charge of `period` that no coverage covers any more (of the
    memberships in `only`, if given).

    Returns the credited lines (positive) per credit-note number.
    """
    args: list[object] = [
        str(period),
        period.first_day,
        period.last_day,
        list(numbers),
        list(numbers.values()),
        now,
    ]
    if only is not None:
        args.append(list(only))
    rows = await conn.fetch(_statement(_CREDIT, only, 7, "ch"), *args)
    return _lines(rows)
