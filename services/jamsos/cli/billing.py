"""Billing commands: bill, invoice list|show|export|pay, reconcile."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import sys
from pathlib import Path

import asyncpg
import typer
from rich.table import Table

from jamsos import billing_requests
from jamsos.adapters import coverage_ledger, invoice_documents, invoices, tariff_table
from jamsos.adapters.invoices import InvoiceDetail, InvoiceRow
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.cli.common import (
    app,
    configured,
    console,
    invoice_app,
    period_arg,
    with_pool,
)
from jamsos.cli.invoice_tables import invoice_table, lines_table
from jamsos.domain.coverage import JAKARTA
from jamsos.domain.period import Period
from jamsos.domain.tariff import Tariff, tariff_on
from jamsos.indonesian import rupiah
from jamsos.settings import load_settings
from jamsos.usecases import billing as billing_usecases
from jamsos.workers.runtime import jakarta_now


@app.command()
def bill(
    period: str = typer.Argument(..., help="the month to bill, YYYY-MM"),
    timeout: float = typer.Option(120.0, help="seconds to wait for the billing service"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Request a billing run for PERIOD, wait for it, and print the invoices it issued."""
    settings = configured(load_settings())
    month = period_arg(period)

    async def go(pool: asyncpg.Pool) -> tuple[billing_requests.RunResult, int]:
        async with pool.acquire() as conn:
            behind = await coverage_ledger.ledger_behind(conn)
        return await billing_requests.bill(settings, pool, month, timeout=timeout), behind

    try:
        result, behind = asyncio.run(with_pool(settings, go))
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
            "invoices": [dataclasses.asdict(i) for i in result.invoices],
        }
        sys.stdout.write(json.dumps(out, default=str, indent=2) + "\n")
    elif result.outcome != "DONE":
        console.print(f"[red]billing run {result.request_id} failed[/red]: {result.detail}")
    elif result.invoices:
        console.print(invoice_table(result.invoices, f"Issued for {month}"))
    else:
        console.print(f"{month}: nothing new to invoice (every covered participant is charged)")
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
    settings = load_settings()
    month = None if period is None else period_arg(period)

    async def go(pool: asyncpg.Pool) -> list[InvoiceRow]:
        async with pool.acquire() as conn:
            return await invoices.list_invoices(conn, month)

    rows = asyncio.run(with_pool(settings, go))
    if as_json:
        data = [dataclasses.asdict(r) for r in rows]
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        console.print(invoice_table(rows))


async def _invoice(pool: asyncpg.Pool, invoice_no: str) -> tuple[InvoiceDetail, Tariff] | None:
    async with pool.acquire() as conn:
        detail = await invoices.invoice_detail(conn, invoice_no)
        if detail is None:
            return None
        period = Period.parse(detail.invoice.period)
        return detail, tariff_on(await tariff_table.tariffs(conn), period.first_day)


def _no_such_invoice(invoice_no: str) -> typer.Exit:
    console.print(f"[red]no invoice {invoice_no}[/red]")
    return typer.Exit(1)


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
        sys.stdout.write(json.dumps(dataclasses.asdict(detail), default=str, indent=2) + "\n")
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


@invoice_app.command("pay")
def invoice_pay(
    invoice_no: str = typer.Argument(..., help="e.g. JMS-PEMKAB-KUDUS-202502-01"),
    paid_on: str = typer.Option(None, help="payment date YYYY-MM-DD (default: now)"),
) -> None:
    """Record that the regency paid an invoice (ISSUED → PAID)."""
    settings = load_settings()
    try:
        paid_at = (
            jakarta_now()
            if paid_on is None
            else dt.datetime.combine(dt.date.fromisoformat(paid_on), dt.time(12), JAKARTA)
        )
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    result = asyncio.run(
        with_pool(
            settings,
            lambda pool: billing_usecases.pay(PostgresUnitOfWork(pool), invoice_no, paid_at),
        )
    )
    if result is None:
        raise _no_such_invoice(invoice_no)
    if result.kind == "CREDIT":
        console.print(
            f"{invoice_no} is a credit note: it lowers the period's balance and is not paid"
        )
        raise typer.Exit(1)
    if not result.changed:
        console.print(f"{invoice_no} was already paid on {result.paid_at}", highlight=False)
        return
    console.print(f"{invoice_no} PAID on {paid_at.date().isoformat()}", highlight=False)


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
    settings = load_settings()
    month = None if period is None else period_arg(period)
    result = asyncio.run(
        with_pool(
            settings,
            lambda pool: billing_usecases.reconcile(
                pool, month, jakarta_now(), dt.timedelta(minutes=stale_minutes)
            ),
        )
    )
    if as_json:
        sys.stdout.write(json.dumps(dataclasses.asdict(result), default=str, indent=2) + "\n")
    else:
        print_reconciliation(result)
    if result.mismatches:
        raise typer.Exit(1)


def print_reconciliation(result: billing_usecases.Reconciliation) -> None:
    """The reconciliation's figures and mismatches as tables."""
    agencies = Table(
        "agency",
        "submitted",
        "enrolled",
        "duplicate",
        "rejected",
        "held",
        "in flight",
        "with outcome event",
        title="submitted = enrolled + duplicate + rejected + held (+ in flight)",
    )
    for a in result.agencies:
        agencies.add_row(
            a.agency_code,
            *(
                f"{v:,}"
                for v in (
                    a.submitted,
                    a.enrolled,
                    a.duplicate,
                    a.rejected,
                    a.held,
                    a.in_flight,
                    a.with_outcome_event,
                )
            ),
        )
    console.print(agencies)
    periods = Table(
        "period",
        "covered",
        "× tariff",
        "charge lines",
        "credited",
        "invoiced",
        "credit notes",
        "net",
        title="Σ charge lines = Σ invoice totals − credits = covered × tariff",
    )
    for p in result.periods:
        periods.add_row(
            p.period,
            f"{p.covered:,}",
            rupiah(p.covered * p.tariff_total),
            rupiah(p.charged.amount),
            rupiah(p.credited.amount),
            rupiah(p.debit_invoices.amount),
            rupiah(p.credit_invoices.amount),
            rupiah(p.debit_invoices.amount + p.credit_invoices.amount),
        )
    console.print(periods)
    if not result.mismatches:
        console.print(
            f"[green]reconciled[/green]: {len(result.agencies)} agencies,"
            f" {len(result.periods)} period(s), billing ledger in step",
            highlight=False,
        )
        return
    table = Table("where", "check", "expected", "actual", title="[red]Mismatches[/red]")
    for m in result.mismatches:
        table.add_row(m.scope, m.check, f"{m.expected:,}", f"{m.actual:,}")
    console.print(table)
