"""The per-participant lines of an invoice come in one order, OPD, funding source, membership
number, whichever way the query sorts them (adapters/invoices.py sorts them as one byte string
when the database's collation is byte order)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import asyncpg
import pytest

from jamsos.adapters import invoices

pytestmark = pytest.mark.integration

INVOICE = "JMS-PEMKAB-KUDUS-202502-01"
# Codes chosen to trip a careless single-key sort: prefixes of one another, separators and
# control bytes (\x01 is the encoding's own byte), punctuation below letters, lower case,
# non-ASCII letters.
AGENCIES = ["A", "A-B", "AB", "A\x01", "A\x01\x01B", "A\x02", "Ä", "a", "B", "A B", ""]
FUNDING = ["APBD", "APBD\x01", "APB", "DBHCHT", "É", "\x01"]
MEMBERS = ["KDS-000000002", "KDS-000000010", "KDS-00000001", "kds-1", "KDS-Ω", "KDS\x01"]
OLD_ORDER = invoices._CHARGE_LINES.format(order=invoices._BY_COLLATION)


async def insert_charges(pool: asyncpg.Pool) -> int:
    """One charge on INVOICE per (agency, funding source, membership) combination, inserted in
    a scrambled order."""
    combos = list(itertools.product(AGENCIES, FUNDING, MEMBERS))
    rows = []
    for n, (agency, funding, member) in enumerate(combos[::-1][::2] + combos[::-1][1::2]):
        rows.append(
            (
                f"{member}/{n}",
                "2025-02",
                dt.date(2025, 1, 1),
                f"3319{n:012d}",
                agency,
                "PEMKAB-KUDUS",
                funding,
                10_000,
                6_800,
                16_800,
                dt.datetime(2025, 2, 3, tzinfo=dt.UTC),
                INVOICE,
            )
        )
    async with pool.acquire() as conn, conn.transaction():
        # the period's partition, as a first run makes it (migration 0015)
        table = await conn.fetchval("SELECT charges_open_period('2025-02')")
        await conn.executemany(
            f'INSERT INTO "{table}" (membership_no, period, coverage_start, nik, agency_code,'
            " payer_code, funding_source, jkk, jkm, amount, accrued_at, invoice_no)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            rows,
        )
        await conn.execute("SELECT charges_attach_period('2025-02')")
    return len(rows)


async def test_lines_come_in_the_order_of_opd_funding_source_and_membership_number(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    count = await insert_charges(pool)
    async with pool.acquire() as conn:
        lines = await invoices.charge_lines(conn, INVOICE)
        async with conn.transaction():
            streamed = [line async for line in invoices.stream_charge_lines(conn, INVOICE, 7)]
        key_by_key = [dict(r) for r in await conn.fetch(OLD_ORDER, INVOICE)]
        exported = tmp_path / "new.csv"
        assert await invoices.copy_charge_lines(conn, INVOICE, exported) == count
        before = tmp_path / "old.csv"
        await conn.copy_from_query(
            OLD_ORDER,
            INVOICE,
            output=str(before),
            format="csv",
            header=True,
            force_quote=invoices._QUOTED,
        )
    assert len(lines) == count
    assert [vars(line) for line in lines] == key_by_key
    assert streamed == lines
    assert exported.read_bytes() == before.read_bytes()


async def test_on_a_byte_order_database_the_lines_sort_by_their_utf8_bytes(
    pool: asyncpg.Pool,
) -> None:
    collation = await pool.fetchval(
        "SELECT datcollate FROM pg_database WHERE datname = current_database()"
    )
    if collation not in invoices.BYTE_ORDER_COLLATIONS:
        pytest.skip(f"the test database's collation is {collation}")
    await insert_charges(pool)
    async with pool.acquire() as conn:
        lines = await invoices.charge_lines(conn, INVOICE)
    keys = [(x.opd, x.sumber_dana, x.no_kepesertaan) for x in lines]
    assert keys == sorted(keys, key=lambda k: tuple(part.encode() for part in k))
