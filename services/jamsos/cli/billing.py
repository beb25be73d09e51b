"""Billing commands: bill, invoice list|show|export|pay, reconcile."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from jamsos.cli.common import (
    app,
    configured,
    console,
    date_arg,
    invoice_app,
    period_arg,
    with_pool,
)
from jamsos.cli.errors import Failure
from jamsos.cli.invoice_tables import invoice_table, json_value, lines_table
from jamsos.cli.reconcile_tables import print_reconciliation
from jamsos.domain.period import Period
from jamsos.indonesian import rupiah
from jamsos.settings import load_settings

if TYPE_CHECKING:
    import asyncpg

    from jamsos import billing_requests
    from jamsos.adapters import invoice_documents
    from jamsos.adapters.invoices import InvoiceDetail, InvoiceRow
    from jamsos.domain.tariff import Tariff


@app.command()
def bill(
    period: str = typer.Argument(..., help="the month to bill, YYYY-MM"),
    timeout: float = typer.Option(120.0, help="seconds to wait for the billing service"),
    force: bool = typer.Option(
        False, "--force", help="bill a period more than one month ahead of today"
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Request a billing run for PERIOD, wait for it, and print the invoices it issued.

    A period more than one month ahead of today (Asia/Jakarta) is refused without --force.
    """
    from jamsos import billing_requests
    from jamsos.adapters import coverage_ledger
    from jamsos.workers.runtime import jakarta_now

    month = period_arg(period)
    latest = Period.of(jakarta_now().date()).next()
    if month > latest and not force:
        raise Failure(
            f"{month} is more than one month ahead of today ({jakarta_now().date()}, WIB):"
            f" bill {latest} or earlier, or add --force if a real invoice for {month} is meant"
        )
    settings = configured(load_settings())

    async def go(pool: asyncpg.Pool) -> tuple[billing_requests.RunResult, int, int]:
        async with pool.acquire() as conn:
            behind = await coverage_ledger.ledger_behind(conn)
        result = await billing_requests.bill(settings, pool, month, timeout=timeout)
        async with pool.acquire() as conn:
            covered = await coverage_ledger.covered_in(conn, month)
        return result, behind, covered

    try:
        result, behind, covered = asyncio.run(with_pool(settings, go))
    except TimeoutError as error:
        console.print(f"[red]{error}[/red]: is the billing service running (`jamsos run billing`)?")
        raise typer.Exit(1) from error
    if as_json:
        out = {
            "request_id": result.request_id,
            "period": str(result.period),
            "outcome": result.outcome,
            "detail": result.detail,
            "seconds": round(result.seconds, 3),
            "covered": covered,
            "invoices": [dataclasses.asdict(i) for i in result.invoices],
        }
        sys.stdout.write(json.dumps(out, default=str, indent=2) + "\n")
    elif result.outcome != "DONE":
        console.print(f"[red]billing run {result.request_id} failed[/red]: {result.detail}")
    elif result.invoices:
        console.print(invoice_table(result.invoices, f"Issued for {month}"))
    elif covered == 0:
        console.print(
            f"{month}: nobody is covered for the whole of {month}, so nothing is invoiced"
            " (coverage starts on the first day of the month after enrolment)",
            highlight=False,
        )
    else:
        console.print(
            f"{month}: nothing new to invoice (all {covered:,} covered participants are"
            " already charged)",
            highlight=False,
        )
    if behind and not as_json:
        console.print(
            f"[yellow]note[/yellow]: {behind} participant(s) were not yet in the billing"
            " ledger when the run was requested; a later run bills them."
        )
    if not as_json:
        console.print(f"run {result.request_id} took {result.seconds:.2f}s", highlight=False)
    if result.outcome != "DONE":
        raise typer.Exit(1)


@invoice_app.command("list")
def invoice_list(
    period: str = typer.Option(None, help="only this period, YYYY-MM"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """List invoices and credit notes with their status."""
    from jamsos.adapters import invoices

    settings = load_settings()
    month = None if period is None else period_arg(period)

    async def go(pool: asyncpg.Pool) -> list[InvoiceRow]:
        async with pool.acquire() as conn:
            return await invoices.list_invoices(conn, month)

    rows = asyncio.run(with_pool(settings, go))
    if as_json:
        data = [dataclasses.asdict(r) for r in rows]
        sys.stdout.write(json.dumps(data, default=json_value, indent=2) + "\n")
    else:
        console.print(invoice_table(rows))


async def _invoice(pool: asyncpg.Pool, invoice_no: str) -> tuple[InvoiceDetail, Tariff] | None:
    from jamsos.adapters import invoices, tariff_table
    from jamsos.domain.tariff import tariff_on

    async with pool.acquire() as conn:
        detail = await invoices.invoice_detail(conn, invoice_no)
        if detail is None:
            return None
        period = Period.parse(detail.invoice.period)
        return detail, tariff_on(await tariff_table.tariffs(conn), period.first_day)


def _no_such_invoice(invoice_no: str) -> Failure:
    """Invoice numbers are taken exactly (no prefixes: one character apart is another month or
    another payer's invoice)."""
    return Failure(f"no invoice {invoice_no} (see `jamsos invoice list`)", 1)


@invoice_app.command("show")
def invoice_show(
    invoice_no: str = typer.Argument(..., help="e.g. JMS-PEMKAB-KUDUS-202502-01"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Show an invoice's lines per agency and funding source, with its totals."""
    settings = load_settings()
    found = asyncio.run(with_pool(settings, lambda pool: _invoice(pool, invoice_no)))
    if found is None:
        raise _no_such_invoice(invoice_no)
    detail, _ = found
    if as_json:
        sys.stdout.write(
            json.dumps(dataclasses.asdict(detail), default=json_value, indent=2) + "\n"
        )
    else:
        console.print(lines_table(detail))


@invoice_app.command("export")
def invoice_export(
    invoice_no: str = typer.Argument(..., help="e.g. JMS-PEMKAB-KUDUS-202502-01"),
    out_dir: str = typer.Option(
        ".", "--out", help="directory for INVOICE.pdf, INVOICE.xlsx and INVOICE.csv"
    ),
) -> None:
    """Write the invoice as PDF (Indonesian) and its per-participant lines as XLSX and CSV."""
    from jamsos.adapters import invoice_documents

    settings = load_settings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    async def go(pool: asyncpg.Pool) -> invoice_documents.Exported | None:
        async with pool.acquire() as conn:
            return await invoice_documents.export_invoice(
                conn, invoice_no, settings.letterhead, out
            )

    exported = asyncio.run(with_pool(settings, go))
    if exported is None:
        raise _no_such_invoice(invoice_no)
    console.print(
        f"wrote {exported.pdf}, {exported.xlsx} and {exported.csv}"
        f" ({exported.participants:,} participant lines)",
        highlight=False,
    )


def _amount(text: str) -> int:
    """Rupiah as finance staff type them: 117600, 117.600, Rp117.600 or 117,600."""
    digits = text.strip().removeprefix("Rp").removeprefix("rp").replace(".", "").replace(",", "")
    if not digits.strip().isdigit():
        raise Failure(f"--amount {text!r} is not a whole number of Rupiah (e.g. 117600)")
    return int(digits)


@invoice_app.command("pay")
def invoice_pay(
    invoice_no: str = typer.Argument(..., help="e.g. JMS-PEMKAB-KUDUS-202502-01"),
    amount: str = typer.Option(..., "--amount", help="Rupiah paid, e.g. 117600"),
    reference: str = typer.Option(
        ..., "--reference", help="the payment's reference (bank transfer, SP2D number)"
    ),
    paid_on: str = typer.Option(
        None, help="payment date YYYY-MM-DD or DD/MM/YYYY (default: today, WIB)"
    ),
    partial: bool = typer.Option(
        False, "--partial", help="the amount is less than the outstanding balance on purpose"
    ),
) -> None:
    """Record a payment of an invoice; it is PAID once its payments reach its amount.

    The amount must equal the outstanding balance (or be less, with --partial); a date in the
    future is refused. Dates are Asia/Jakarta (WIB).
    """
    from jamsos.adapters.stores import PostgresUnitOfWork
    from jamsos.usecases import payments
    from jamsos.workers.runtime import jakarta_now

    today = jakarta_now().date()
    day = today if paid_on is None else date_arg(paid_on, "--paid-on")
    if day > today:
        raise Failure(f"--paid-on {day.isoformat()} is in the future (today is {today}, WIB)")
    rupiah_paid = _amount(amount)
    if not reference.strip():
        raise Failure("--reference must name the payment (e.g. the bank transfer number)")
    settings = load_settings()
    result = asyncio.run(
        with_pool(
            settings,
            lambda pool: payments.pay(
                PostgresUnitOfWork(pool),
                invoice_no,
                rupiah_paid,
                reference.strip(),
                day,
                partial=partial,
                actor=settings.actor,
                now=jakarta_now(),
            ),
        )
    )
    if result is None:
        raise _no_such_invoice(invoice_no)
    if result.refused is not None:
        raise Failure(f"{invoice_no}: {result.refused}", 1)
    if result.repeated:
        console.print(
            f"{invoice_no}: payment {reference.strip()} was already recorded; nothing changed"
            f" (outstanding {rupiah(result.outstanding_after)})",
            highlight=False,
        )
        return
    if result.outstanding_after == 0:
        console.print(
            f"{invoice_no} PAID on {day.isoformat()} (WIB): {rupiah(result.amount)}"
            f" ref {reference.strip()}",
            highlight=False,
        )
    else:
        console.print(
            f"{invoice_no}: partial payment of {rupiah(result.amount)} on {day.isoformat()}"
            f" (WIB) recorded; {rupiah(result.outstanding_after)} still outstanding",
            highlight=False,
        )


@app.command()
def reconcile(
    period: str = typer.Argument(None, help="only this period, YYYY-MM (default: every billed)"),
    stale_minutes: int = typer.Option(
        60, help="a submission undecided for longer than this is a mismatch"
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Check enrolment counts per agency and each period's charges, invoices and credits.

    Exit code 1 on any mismatch.
    """
    from jamsos.adapters.stores import PostgresUnitOfWork
    from jamsos.usecases import reconciliation
    from jamsos.workers.runtime import jakarta_now

    settings = load_settings()
    month = None if period is None else period_arg(period)
    result = asyncio.run(
        with_pool(
            settings,
            lambda pool: reconciliation.reconcile(
                PostgresUnitOfWork(pool), month, jakarta_now(), dt.timedelta(minutes=stale_minutes)
            ),
        )
    )
    if as_json:
        sys.stdout.write(json.dumps(dataclasses.asdict(result), default=str, indent=2) + "\n")
    else:
        print_reconciliation(result)
    if result.mismatches:
        raise typer.Exit(1)
