"""Charges in one partition per period (migration 0015): existing charges migrate with every
fact they hold, a first run's table must be attached before its transaction commits, and the
attached partition refuses a second uncredited charge of a participant-month."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from jamsos.adapters import db, participant_history
from jamsos.bootstrap import with_database
from tests.conftest import wait_until, waits_for_a_lock

pytestmark = pytest.mark.integration

AT = dt.datetime(2025, 2, 3, 9, 0, tzinfo=dt.UTC)
NIK = "3319010101900001"
CHARGE = (
    "INSERT INTO {table} (membership_no, period, coverage_start, nik, agency_code, payer_code,"
    " funding_source, jkk, jkm, amount, accrued_at, invoice_no, credit_invoice_no, credited_at)"
    " VALUES ($1, $2, '2025-01-01', $3, 'DISDAG', 'PEMKAB-KUDUS', 'DBHCHT', 10000, 6800, 16800,"
    " $4, $5, $6, $7)"
)


@pytest.fixture
async def empty_db(pg_admin_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a new database that no migration has touched."""
    name = f"jamsos_m_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(pg_admin_dsn, name))
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def migrate_before(conn: asyncpg.Connection, version: str) -> None:
    """Apply the migrations older than `version`, as `db.migrate` records them."""
    await conn.execute(
        "CREATE TABLE schema_migrations ("
        " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    for file in db.migration_files():
        name = file.name.removesuffix(".sql")
        if name >= version:
            break
        async with conn.transaction():
            await conn.execute(file.read_text("utf-8"))
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", name)


async def all_charges(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch("SELECT * FROM charges ORDER BY charge_id")]


async def test_existing_charges_move_into_their_periods_partitions_with_every_fact(
    empty_db: asyncpg.Connection,
) -> None:
    conn = empty_db
    await migrate_before(conn, "0015")
    rows = [
        ("KDS-1", "2025-01", "3319010101900001", AT, "JMS-P-202501-01", None, None),
        ("KDS-2", "2025-01", "3319010101900002", AT, "JMS-P-202501-01", "JMS-P-202501-02", AT),
        ("KDS-2", "2025-01", "3319010101900002", AT, "JMS-P-202501-03", None, None),
        ("KDS-1", "2025-02", "3319010101900001", AT, "JMS-P-202502-01", None, None),
    ]
    await conn.executemany(CHARGE.format(table="charges"), rows)
    before = await all_charges(conn)
    columns = await conn.fetch(
        "SELECT attname, atttypid::regtype::text, attnotnull FROM pg_attribute"
        " WHERE attrelid = 'charges'::regclass AND attnum > 0 AND NOT attisdropped"
        " ORDER BY attnum"
    )

    assert "0015_charge_partitions" in await db.migrate(conn)

    assert await all_charges(conn) == before
    assert [tuple(r) for r in columns] == [
        tuple(r)
        for r in await conn.fetch(
            "SELECT attname, atttypid::regtype::text, attnotnull FROM pg_attribute"
            " WHERE attrelid = 'charges'::regclass AND attnum > 0 AND NOT attisdropped"
            " ORDER BY attnum"
        )
    ]
    partitions = await conn.fetch(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'charges'::regclass"
        " ORDER BY 1"
    )
    assert [(r["relname"], r["bound"]) for r in partitions] == [
        ("charges_2025_01", "FOR VALUES IN ('2025-01')"),
        ("charges_2025_02", "FOR VALUES IN ('2025-02')"),
    ]
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            CHARGE.format(table="charges"),
            "KDS-2",
            "2025-01",
            "3319010101900002",
            AT,
            "JMS-P-202501-04",
            None,
            None,
        )
    # the sequence goes on after the moved charges; the counter still counts writes
    changes = await conn.fetchval(
        "SELECT sum(changes) FROM ledger_changes WHERE source = 'charges'"
    )
    await conn.execute(
        CHARGE.format(table="charges"),
        "KDS-3",
        "2025-02",
        "3319010101900003",
        AT,
        "JMS-P-202502-01",
        None,
        None,
    )
    assert await conn.fetchval("SELECT max(charge_id) FROM charges") > max(
        r["charge_id"] for r in before
    )
    assert (
        await conn.fetchval("SELECT sum(changes) FROM ledger_changes WHERE source = 'charges'")
        == changes + 1
    )


async def test_a_charge_of_a_period_without_a_partition_is_refused(pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            CHARGE.format(table="charges"),
            "KDS-1",
            "2025-03",
            "3319010101900001",
            AT,
            "JMS-P-202503-01",
            None,
            None,
        )


async def test_a_first_runs_table_that_is_not_attached_cannot_commit(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        table = await conn.fetchval("SELECT charges_open_period('2025-02')")
        assert table == "charges_2025_02"
        await conn.execute(
            CHARGE.format(table=table),
            "KDS-1",
            "2025-02",
            "3319010101900001",
            AT,
            "JMS-P-202502-01",
            None,
            None,
        )
        with pytest.raises(asyncpg.RaiseError, match="not attached"):
            await tx.commit()
    assert await pool.fetchval("SELECT to_regclass('charges_2025_02')") is None
    assert await pool.fetchval("SELECT count(*) FROM charge_partitions_open") == 0


async def test_attaching_a_table_with_two_uncredited_charges_of_one_month_fails(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.UniqueViolationError):
            async with conn.transaction():
                table = await conn.fetchval("SELECT charges_open_period('2025-02')")
                for invoice in ("JMS-P-202502-01", "JMS-P-202502-02"):
                    await conn.execute(
                        CHARGE.format(table=table),
                        "KDS-1",
                        "2025-02",
                        "3319010101900001",
                        AT,
                        invoice,
                        None,
                        None,
                    )
                await conn.execute("SELECT charges_attach_period('2025-02')")
    assert await pool.fetchval("SELECT count(*) FROM charges") == 0
    # once attached, the period is written through `charges`, its indexes in place
    async with pool.acquire() as conn, conn.transaction():
        assert await conn.fetchval("SELECT charges_open_period('2025-02')") is not None
        # made empty with the table (0021), so that ATTACH adopts it instead of building it
        assert (
            await conn.fetchval("SELECT to_regclass('charges_2025_02_credit_invoice_no_idx')")
            is not None
        )
        await conn.execute("SELECT charges_attach_period('2025-02')")
    assert await pool.fetchval("SELECT charges_open_period('2025-02')") is None
    indexes = await pool.fetch(
        "SELECT indexrelid::regclass::text AS name FROM pg_index"
        " WHERE indrelid = 'charges_2025_02'::regclass ORDER BY 1"
    )
    # charges_once, the BRIN on invoice_no and the credit btree (0018: no BRIN on period),
    # each a partition of the partitioned index: none built twice
    parents = await pool.fetch(
        "SELECT inhparent::regclass::text AS parent FROM pg_inherits"
        " JOIN pg_index ON indexrelid = inhrelid WHERE indrelid = 'charges_2025_02'::regclass"
    )
    assert sorted(r["parent"] for r in parents) == [
        "charges_credit_invoice",
        "charges_invoice",
        "charges_once",
    ]
    assert sorted(r["name"] for r in indexes) == [
        "charges_2025_02_credit_invoice_no_idx",
        "charges_2025_02_invoice_no_idx",
        "charges_2025_02_membership_no_period_idx",
    ]
    with pytest.raises(asyncpg.RaiseError, match="not a period"):
        await pool.execute("SELECT charges_open_period('2025-13''; DROP TABLE charges; --')")
    with pytest.raises(asyncpg.RaiseError, match="not a period"):
        await pool.execute("SELECT charges_open_period('2025-13')")


async def test_migration_0015_keeps_a_charge_committed_while_it_copies(
    empty_db: asyncpg.Connection, pg_admin_dsn: str
) -> None:
    """A billing run of the old version commits a charge while 0015 runs (services migrate as
    they start, so a rolling upgrade does this): the charge must be in the new table, not
    dropped with the old one (0015 locks the table before it copies)."""
    await migrate_before(empty_db, "0015")
    name = await empty_db.fetchval("SELECT current_database()")
    billing = await asyncpg.connect(with_database(pg_admin_dsn, name))
    try:
        tx = billing.transaction()
        await tx.start()
        await billing.execute(
            CHARGE.format(table="charges"),
            "KDS-1",
            "2025-02",
            "3319014506900001",
            AT,
            "JMS-PEMKAB-KUDUS-202502-01",
            None,
            None,
        )
        pid = empty_db.get_server_pid()
        migration = next(f for f in db.migration_files() if f.name.startswith("0015"))

        async def migrate() -> None:
            async with empty_db.transaction():
                await empty_db.execute(migration.read_text("utf-8"))

        running = asyncio.create_task(migrate())

        await wait_until(  # the migration waits for the run's lock
            lambda: waits_for_a_lock(billing, pid),
            timeout=20,
            what="0015 to wait for the billing run's lock",
        )
        await tx.commit()
        await asyncio.wait_for(running, 30)
    finally:
        await billing.close()
    assert await empty_db.fetchval("SELECT count(*) FROM charges") == 1  # unlocked: 0


async def test_a_participants_charges_of_a_period_are_listed_in_the_order_runs_made_them(
    pool: asyncpg.Pool,
) -> None:
    """charge_id increases only within a session (0018: each session numbers from its own
    block of the sequence), so a later run's charge may have the smaller id."""
    later = AT + dt.timedelta(days=30)
    async with pool.acquire() as conn, conn.transaction():
        table = await conn.fetchval("SELECT charges_open_period('2025-02')")
        insert = CHARGE.format(table=table).replace("(membership_no,", "(charge_id, membership_no,")
        insert = insert.replace("VALUES ($1,", "VALUES ($8, $1,")
        # the first run's charge, credited later (a session whose block numbered it 2001)
        await conn.execute(
            insert, "KDS-1", "2025-02", NIK, AT, "JMS-P-202502-01", "JMS-C-202502-01", later, 2001
        )
        # the charge again after a later enrolment (a session whose block numbered it 1001)
        await conn.execute(
            insert, "KDS-1", "2025-02", NIK, later, "JMS-P-202502-02", None, None, 1001
        )
        await conn.execute("SELECT charges_attach_period('2025-02')")
        listed = await participant_history._charges(conn, NIK, "KDS-1")
    assert [c["invoice_no"] for c in listed] == ["JMS-P-202502-01", "JMS-P-202502-02"]
