"""SQL of `invoices` and `invoice_lines`: issuing, listing, showing, paying, and the
per-participant lines of an invoice as CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from jamsos.domain.invoicing import Invoice, PayerHistory
from jamsos.domain.period import Period
from jamsos.usecases.rows import PaymentState


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
    # the invoices this one refers to: for a credit note, those whose charges it credits; for a
    # supplementary invoice, the period's regular invoice it adds to
    refers_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChargeLine:
    """One participant's charge on an invoice (negative on the credit note that credits it)."""

    no_tagihan: str
    periode: str
    no_kepesertaan: str
    nik: str
    nama: str | None
    opd: str
    sumber_dana: str
    jkk: int
    jkm: int
    jumlah: int


# The columns of an InvoiceRow, the one list every invoice query selects (a constant, never input).
INVOICE_COLUMNS = ", ".join(InvoiceRow.__dataclass_fields__)


def invoice_row(r: asyncpg.Record) -> InvoiceRow:
    """An InvoiceRow from a row selected with INVOICE_COLUMNS."""
    return InvoiceRow(**{k: r[k] for k in InvoiceRow.__dataclass_fields__})


async def list_invoices(conn: asyncpg.Connection, period: Period | None = None) -> list[InvoiceRow]:
    """Invoices, optionally of one period, by period and number."""
    rows = await conn.fetch(
        "SELECT " + INVOICE_COLUMNS + " FROM invoices"
        " WHERE $1::text IS NULL OR period = $1 ORDER BY period, payer_code, seq",
        None if period is None else str(period),
    )
    return [invoice_row(r) for r in rows]


async def invoices_of_request(conn: asyncpg.Connection, request_id: str) -> list[InvoiceRow]:
    """The invoices one billing run issued."""
    rows = await conn.fetch(
        "SELECT " + INVOICE_COLUMNS + " FROM invoices"
        " WHERE request_id = $1 ORDER BY payer_code, seq",
        request_id,
    )
    return [invoice_row(r) for r in rows]


async def invoice_detail(conn: asyncpg.Connection, invoice_no: str) -> InvoiceDetail | None:
    """An invoice and its lines per agency and funding source."""
    row = await conn.fetchrow(
        "SELECT " + INVOICE_COLUMNS + " FROM invoices WHERE invoice_no = $1",
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
    invoice = invoice_row(row)
    agency_lines = [AgencyLine(**dict(r)) for r in lines]
    return InvoiceDetail(invoice, agency_lines, await _refers_to(conn, invoice))


async def _refers_to(conn: asyncpg.Connection, invoice: InvoiceRow) -> tuple[str, ...]:
    if invoice.kind == "REGULAR":
        return ()
    credited: list[str] = []
    if invoice.kind == "CREDIT":
        credited = [
            r["invoice_no"]
            for r in await conn.fetch(
                "SELECT DISTINCT invoice_no FROM charges WHERE credit_invoice_no = $1"
                " ORDER BY invoice_no",
                invoice.invoice_no,
            )
        ]
    regular = await conn.fetch(
        "SELECT invoice_no FROM invoices WHERE payer_code = $1 AND period = $2"
        " AND kind = 'REGULAR' ORDER BY seq",
        invoice.payer_code,
        invoice.period,
    )
    return tuple(credited) or tuple(r["invoice_no"] for r in regular)


_CHARGE_LINES = """
    SELECT $1::text AS no_tagihan, ch.period AS periode, ch.membership_no AS no_kepesertaan,
           ch.nik, p.full_name AS nama, ch.agency_code AS opd,
           ch.funding_source AS sumber_dana,
           CASE WHEN ch.credit_invoice_no = $1 THEN -ch.jkk ELSE ch.jkk END AS jkk,
           CASE WHEN ch.credit_invoice_no = $1 THEN -ch.jkm ELSE ch.jkm END AS jkm,
           CASE WHEN ch.credit_invoice_no = $1 THEN -ch.amount ELSE ch.amount END AS jumlah
    FROM charges ch LEFT JOIN participants p ON p.membership_no = ch.membership_no
    WHERE ch.invoice_no = $1 OR ch.credit_invoice_no = $1
    ORDER BY {order}
"""
# The lines' order: OPD, funding source, membership number, in the database's collation.
_BY_COLLATION = "ch.agency_code, ch.funding_source, ch.membership_no"
# The same order as one byte string, when the database's collation is byte order (C, POSIX, and
# glibc's C.UTF-8, which compares by code point, i.e. by UTF-8 bytes): each of the first two
# keys with its \x01 bytes doubled as \x01\x02 and ended by \x01\x01 (an order-preserving,
# prefix-free encoding), then the membership number. A sort on one key compares it with one
# memcmp; on three keys PostgreSQL compares key by key, re-reading each tie's next column from
# the sort tuple (1,000,000 lines: 1.5 s of CPU instead of 2.9 s, PostgreSQL 18, README).
_AS_BYTES = (
    "(replace(ch.agency_code, E'\\x01', E'\\x01\\x02') || E'\\x01\\x01'"
    " || replace(ch.funding_source, E'\\x01', E'\\x01\\x02') || E'\\x01\\x01'"
    ' || ch.membership_no) COLLATE "C"'
)
BYTE_ORDER_COLLATIONS = ("C", "POSIX", "C.UTF-8", "C.utf8")
# Every text column is quoted in the CSV (NIK and membership number above all), amounts are not.
_QUOTED = ["no_tagihan", "periode", "no_kepesertaan", "nik", "nama", "opd", "sumber_dana"]


async def _sort_in_memory(conn: asyncpg.Connection) -> None:
    """A million lines sort in memory (~150 MB) instead of spilling at the default 4 MB, and
    without JIT compilation (its compile time buys nothing on this plain sort-and-format
    query); for the caller's transaction only."""
    await conn.execute("SET LOCAL work_mem = '256MB'")
    await conn.execute("SET LOCAL jit = off")


async def _charge_lines_sql(conn: asyncpg.Connection) -> str:
    """The per-participant lines' query for this database: sorted as one byte string when its
    collation orders text by bytes (the same order, cheaper), else key by key."""
    bytewise = await conn.fetchval(
        "SELECT datlocprovider = 'c' AND datcollate = ANY($1::text[])"
        " FROM pg_database WHERE datname = current_database()",
        list(BYTE_ORDER_COLLATIONS),
    )
    return _CHARGE_LINES.format(order=_AS_BYTES if bytewise else _BY_COLLATION)


async def charge_lines(conn: asyncpg.Connection, invoice_no: str) -> list[ChargeLine]:
    """The invoice's per-participant lines (negative amounts on a credit note)."""
    sql = await _charge_lines_sql(conn)
    return [ChargeLine(**dict(r)) for r in await conn.fetch(sql, invoice_no)]


async def stream_charge_lines(
    conn: asyncpg.Connection, invoice_no: str, batch: int = 5_000
) -> AsyncIterator[ChargeLine]:
    """The invoice's per-participant lines through a server-side cursor, `batch` rows at a
    time (memory stays flat); inside the caller's transaction."""
    await _sort_in_memory(conn)
    sql = await _charge_lines_sql(conn)
    async for r in conn.cursor(sql, invoice_no, prefetch=batch):
        yield ChargeLine(**dict(r))


async def copy_charge_lines(conn: asyncpg.Connection, invoice_no: str, path: Path) -> int:
    """Write the invoice's per-participant lines to `path` as CSV (Indonesian headers), every
    text field quoted, streamed by COPY TO STDOUT straight into the file. On a credit note the
    credited charges appear with negative amounts. Returns the line count."""
    async with conn.transaction():
        await _sort_in_memory(conn)
        status = await conn.copy_from_query(
            await _charge_lines_sql(conn),
            invoice_no,
            output=str(path),
            format="csv",
            header=True,
            force_quote=_QUOTED,
        )
    return int(str(status).rsplit(" ", 1)[-1])


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


async def payment_state(conn: asyncpg.Connection, invoice_no: str) -> PaymentState | None:
    """An invoice's kind, amount and what was paid on it, locked for the payment."""
    row = await conn.fetchrow(
        "SELECT kind, amount, paid_at, (SELECT coalesce(sum(amount), 0) FROM payments p"
        " WHERE p.invoice_no = i.invoice_no)::bigint AS paid"
        " FROM invoices i WHERE invoice_no = $1 FOR UPDATE",
        invoice_no,
    )
    if row is None:
        return None
    return PaymentState(invoice_no, row["kind"], row["amount"], row["paid"], row["paid_at"])


async def payment_with_reference(
    conn: asyncpg.Connection, invoice_no: str, reference: str
) -> tuple[int, dt.date] | None:
    """(amount, paid_on) of the payment already recorded under `reference`, if any."""
    row = await conn.fetchrow(
        "SELECT amount, paid_on FROM payments WHERE invoice_no = $1 AND reference = $2",
        invoice_no,
        reference,
    )
    return None if row is None else (row["amount"], row["paid_on"])


async def add_payment(
    conn: asyncpg.Connection,
    invoice_no: str,
    amount: int,
    reference: str,
    paid_on: dt.date,
    *,
    settles: bool,
    paid_at: dt.datetime,
) -> None:
    """Record a payment; the one that settles the balance marks the invoice PAID."""
    await conn.execute(
        "INSERT INTO payments (invoice_no, amount, reference, paid_on, partial)"
        " VALUES ($1, $2, $3, $4, $5)",
        invoice_no,
        amount,
        reference,
        paid_on,
        not settles,
    )
    if settles:
        await conn.execute(
            "UPDATE invoices SET status = 'PAID', paid_at = $2 WHERE invoice_no = $1",
            invoice_no,
            paid_at,
        )


def by_funding_source(lines: Sequence[AgencyLine]) -> dict[str, int]:
    """Amounts per funding source (budget line), for the report and the PDF."""
    result: dict[str, int] = {}
    for line in lines:
        result[line.funding_source] = result.get(line.funding_source, 0) + line.amount
    return result
