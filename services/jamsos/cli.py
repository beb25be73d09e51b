"""`jamsos …` commands: parse arguments, call bootstrap or a use case, print."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from jamsos import bootstrap
from jamsos.adapters import db, views
from jamsos.adapters.kafka import create_topics, wait_for_broker
from jamsos.adapters.spreadsheet import read_workers
from jamsos.publishing import publish_raw, publish_submissions, submission_key
from jamsos.settings import Settings, load_settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)
topics_app = typer.Typer(no_args_is_help=True, help="Kafka topics.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
ops_app = typer.Typer(no_args_is_help=True, help="Operator tools.")
dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters (jamsos.dlq.v1).")
app.add_typer(topics_app, name="topics")
app.add_typer(db_app, name="db")
review_app = typer.Typer(no_args_is_help=True, help="Submissions held for review.")
app.add_typer(ops_app, name="ops")
app.add_typer(review_app, name="review")
ops_app.add_typer(dlq_app, name="dlq")
console = Console(width=max(Console().width, 132))


def main() -> None:
    """Console entry point."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app()


def _configured(settings: Settings) -> Settings:
    """Settings that must name a real broker and database (for commands that don't embed)."""
    missing = [
        name
        for name, value in (
            ("JAMSOS_KAFKA_BOOTSTRAP", settings.kafka_bootstrap),
            ("JAMSOS_DATABASE_URL", settings.database_url),
        )
        if value is None
    ]
    if missing:
        console.print(
            f"[red]{' and '.join(missing)} not set[/red]: start `jamsos up` and export"
            " the values it prints, or point them at your Kafka and PostgreSQL."
        )
        raise typer.Exit(2)
    return settings


def _database_url(settings: Settings) -> str:
    if settings.database_url is None:
        console.print("[red]JAMSOS_DATABASE_URL is not set[/red] (see `jamsos up`).")
        raise typer.Exit(2)
    return settings.database_url


async def _serve(settings: Settings, services: list[str]) -> None:
    app_, broker = bootstrap.build_app(settings, services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app_.start()
    try:
        await bootstrap.wait_assigned(broker)
        console.print(
            f"[green]running[/green] {', '.join(services)}; Ctrl-C stops", highlight=False
        )
        await stop.wait()
    finally:
        await app_.stop()


# --- registration and operations commands (lead) ---


@app.command()
def up(
    services: str = typer.Option("all", help="which services to run in this process"),
) -> None:
    """Start broker, database (embedded when JAMSOS_* are unset) and the services."""
    settings = load_settings()
    with bootstrap.infrastructure(settings) as ready:
        asyncio.run(bootstrap.prepare(ready))
        console.print(f"export JAMSOS_KAFKA_BOOTSTRAP={ready.kafka_bootstrap}", highlight=False)
        console.print(f"export JAMSOS_DATABASE_URL='{ready.database_url}'", highlight=False)
        asyncio.run(_serve(ready, bootstrap.service_names(services)))


@app.command()
def run(
    service: str = typer.Argument(..., help="registration, verification, billing or all"),
) -> None:
    """Run one service against the configured broker and database."""
    settings = _configured(load_settings())
    try:
        names = bootstrap.service_names(service)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    asyncio.run(_serve(settings, names))


@topics_app.command("create")
def topics_create(
    partitions: int = typer.Option(
        None, help="partitions per topic (default JAMSOS_PARTITIONS or 6)"
    ),
) -> None:
    """Create every contract and internal topic that does not exist yet (idempotent)."""
    settings = load_settings()
    if settings.kafka_bootstrap is None:
        console.print("[red]JAMSOS_KAFKA_BOOTSTRAP is not set[/red]")
        raise typer.Exit(2)
    bootstrap_server = settings.kafka_bootstrap

    async def go() -> list[str]:
        await wait_for_broker(bootstrap_server)
        return await create_topics(
            bootstrap_server,
            topics.ALL_TOPICS,
            partitions or settings.partitions,
            settings.replication_factor,
        )

    created = asyncio.run(go())
    for topic in topics.ALL_TOPICS:
        console.print(f"{'created' if topic in created else 'exists '}  {topic}", highlight=False)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending SQL migrations (safe to re-run) and sync the agency registry."""
    settings = load_settings()
    dsn = _database_url(settings)

    async def go() -> list[str]:
        conn = await asyncpg.connect(dsn)
        try:
            applied = await db.migrate(conn)
            await db.sync_agencies(conn, settings.policy.agencies)
            return applied
        finally:
            await conn.close()

    applied = asyncio.run(go())
    console.print(f"applied: {', '.join(applied) if applied else 'nothing (up to date)'}")


@app.command()
def submit(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV, XLSX, JSON or JSONL"),
    agency: str = typer.Option(None, "--agency", help="agency (OPD) code; required for CSV/XLSX"),
    batch_tag: str = typer.Option(None, help="fixes submission ids across edited re-uploads"),
) -> None:
    """Publish a clerk's list of workers as submissions, with a per-row error report.

    CSV/XLSX rows become submissions of `--agency`; JSON (one object or a list) and JSONL are
    published as they are (the contract's payloads). Rows with errors are not published; the
    exit code is 1 when any row had an error.
    """
    settings = load_settings()
    if settings.kafka_bootstrap is None:
        console.print("[red]JAMSOS_KAFKA_BOOTSTRAP is not set[/red] (see `jamsos up`).")
        raise typer.Exit(2)
    if file.suffix.lower() in (".json", ".jsonl"):
        text = file.read_text("utf-8")
        if file.suffix.lower() == ".jsonl":
            raw = [line.encode() for line in text.splitlines() if line.strip()]
        else:
            doc = json.loads(text)
            raw = [json.dumps(d).encode() for d in (doc if isinstance(doc, list) else [doc])]
        messages = [(submission_key(json.loads(v)), v) for v in raw]
        sent = asyncio.run(publish_raw(settings, topics.SUBMITTED, messages))
        console.print(f"published {sent} submission(s) to {topics.SUBMITTED}", highlight=False)
        return
    if not agency:
        console.print("[red]--agency is required for CSV/XLSX files[/red]")
        raise typer.Exit(2)
    result = read_workers(file, agency, jakarta_now(), batch_tag)
    sent = (
        asyncio.run(publish_submissions(settings, result.submissions)) if result.submissions else 0
    )
    failed = len({e.row for e in result.errors})
    console.print(f"{result.rows} row(s): published {sent}, {failed} with errors", highlight=False)
    if result.errors:
        table = Table("row", "column", "problem", title="Rows not published")
        for error in result.errors:
            table.add_row(str(error.row), error.column or "", error.message)
        console.print(table)
        raise typer.Exit(1)


async def _report_data(settings: Settings) -> dict[str, Any]:
    conn = await asyncpg.connect(_database_url(settings))
    try:
        data = await views.registration_report(conn, settings.policy)
        data["billing"] = await _billing_report(conn, settings)
        return data
    finally:
        await conn.close()


async def _billing_report(conn: asyncpg.Connection, settings: Settings) -> dict[str, Any] | None:
    """Billing figures when the billing views are present."""
    try:
        from jamsos.adapters import views_billing
    except ImportError:
        return None
    summary: dict[str, Any] = await views_billing.billing_report(conn, jakarta_now().date())
    return summary


def print_report(data: dict[str, Any]) -> None:
    """The operator's report, as tables."""
    progress = data["progress"]
    console.print(
        f"[bold]jamsos[/bold] — {progress['active']:,} active participants of target "
        f"{progress['target']:,} ({progress['percent']}%), ceiling {progress['ceiling']:,}",
        highlight=False,
    )
    outcomes = Table("outcome", "submissions", title=f"{data['submissions']:,} submissions")
    for status in ("ENROLLED", "DUPLICATE", "REJECTED", "REVIEW", "RECEIVED"):
        label = {"REVIEW": "HELD (review)", "RECEIVED": "IN FLIGHT"}.get(status, status)
        outcomes.add_row(label, f"{data['outcomes'].get(status, 0):,}")
    outcomes.add_row("dead letters (DLQ)", f"{data['dead_letters']:,}")
    console.print(outcomes)
    if data["rejection_reasons"]:
        reasons = Table(
            "reason", "submissions", title="Rejection reasons (a submission may have several)"
        )
        for code, n in data["rejection_reasons"].items():
            reasons.add_row(code, f"{n:,}")
        console.print(reasons)
    agencies = Table(
        "agency",
        "submitted",
        "enrolled",
        "duplicate",
        "rejected",
        "held",
        "in flight",
        "active",
        "quota",
        title="Per agency (OPD)",
    )
    for row in data["per_agency"]:
        agencies.add_row(
            row["agency_code"],
            *(
                f"{row[k]:,}"
                for k in (
                    "submitted",
                    "enrolled",
                    "duplicate",
                    "rejected",
                    "held",
                    "in_flight",
                    "active",
                )
            ),
            "-" if row["quota"] is None else f"{row['quota']:,}",
        )
    console.print(agencies)
    kecamatan = Table("kecamatan", "code", "active participants", title="Per kecamatan")
    for row in data["per_kecamatan"]:
        kecamatan.add_row(row["kecamatan"], row["kecamatan_code"], f"{row['active']:,}")
    console.print(kecamatan)
    billing = data.get("billing")
    if billing:
        from jamsos.adapters import views_billing

        views_billing.print_billing_report(console, billing)


@app.command()
def report(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Enrolment progress against target, per agency and kecamatan, and billing figures."""
    data = asyncio.run(_report_data(load_settings()))
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        print_report(data)


@dlq_app.command("list")
def dlq_list(limit: int = typer.Option(50)) -> None:
    """Show the most recent dead letters."""
    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(_database_url(settings))
        try:
            return await views.dead_letters(conn, limit)
        finally:
            await conn.close()

    table = Table("event_id", "from", "error", "failed at", "replayed")
    for row in asyncio.run(go()):
        table.add_row(
            str(row["event_id"]),
            f"{row['source_topic']}[{row['partition']}]@{row['offset']}",
            row["error"],
            str(row["failed_at"]),
            str(row["replayed_at"] or ""),
        )
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(event_id: str = typer.Argument(..., help="the dead letter's event_id")) -> None:
    """Publish a dead letter's original bytes back to its source topic (e.g. after a fix)."""
    settings = _configured(load_settings())

    async def go() -> str:
        conn = await asyncpg.connect(_database_url(settings))
        try:
            row = await conn.fetchrow(
                "SELECT source_topic, key, value FROM dead_letters WHERE event_id = $1::uuid",
                event_id,
            )
            if row is None:
                return ""
            await publish_raw(settings, row["source_topic"], [(row["key"], row["value"])])
            await conn.execute(
                "UPDATE dead_letters SET replayed_at = now() WHERE event_id = $1::uuid", event_id
            )
            return str(row["source_topic"])
        finally:
            await conn.close()

    topic = asyncio.run(go())
    if not topic:
        console.print(f"[red]no dead letter {event_id}[/red]")
        raise typer.Exit(1)
    console.print(f"replayed {event_id} to {topic}", highlight=False)


@review_app.command("list")
def review_list(limit: int = typer.Option(100)) -> None:
    """Submissions held because they look like a participant under another NIK."""
    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(_database_url(settings))
        try:
            return await views.held_submissions(conn, limit)
        finally:
            await conn.close()

    table = Table(
        "agency", "submission", "NIK", "name", "born", "looks like (membership, NIK, name, score)"
    )
    for row in asyncio.run(go()):
        looks = "; ".join(
            f"{c['membership_no']} {c['nik']} {c['full_name']} {c['score']:.2f}"
            for c in row["candidates"] or []
        )
        table.add_row(
            row["agency_code"],
            row["submission_id"],
            row["nik"],
            row["full_name"],
            row["birth_date"],
            looks,
        )
    console.print(table)


@review_app.command("decide")
def review_decide(
    agency: str = typer.Argument(..., help="agency code of the held submission"),
    submission_id: str = typer.Argument(...),
    decision: str = typer.Argument(..., help="ENROL or DUPLICATE"),
    by: str = typer.Option(..., "--by", help="who decides (kept on the submission)"),
) -> None:
    """Resolve a held submission: publishes `registration.review-decided` (key: its NIK)."""
    from jamsos.publishing import publish_model
    from jamsos_schemas.registration import RegistrationReviewDecidedV1

    settings = _configured(load_settings())
    if decision.upper() not in ("ENROL", "DUPLICATE"):
        console.print("[red]decision must be ENROL or DUPLICATE[/red]")
        raise typer.Exit(2)

    async def go() -> bool:
        conn = await asyncpg.connect(_database_url(settings))
        try:
            nik = await conn.fetchval(
                "SELECT nik FROM submissions WHERE agency_code = $1 AND submission_id = $2"
                " AND status = 'REVIEW'",
                agency,
                submission_id,
            )
        finally:
            await conn.close()
        if nik is None:
            return False
        command = RegistrationReviewDecidedV1(
            agency_code=agency,
            submission_id=submission_id,
            decision=decision.upper(),
            decided_by=by,
            decided_at=jakarta_now(),
        )
        await publish_model(settings, topics.REVIEW_DECIDED, nik, command)
        return True

    if not asyncio.run(go()):
        console.print(f"[red]{agency}/{submission_id} is not held for review[/red]")
        raise typer.Exit(1)
    console.print(f"published {decision.upper()} for {agency}/{submission_id}", highlight=False)


@app.command()
def demo(
    workers: int = typer.Option(600, help="valid workers in the synthetic cohort"),
) -> None:
    """Run the whole flow on synthetic data (embedded broker and database) and print the report."""
    from jamsos.demo import run_demo

    settings = replace(load_settings(), kafka_bootstrap=None)
    code = run_demo(settings, workers, console)
    raise typer.Exit(code)


@app.command()
def asyncapi(out: Path = typer.Option(Path("schemas/asyncapi.yaml"))) -> None:
    """Write the AsyncAPI document generated from the services' FastStream app."""
    from jamsos.docs import asyncapi_yaml

    out.write_text(asyncapi_yaml(), "utf-8")
    console.print(f"wrote {out}")


# --- billing commands ---
# Imports of the billing commands live here so the sections stay apart (may move to the top).
import dataclasses  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from typing import TypeVar  # noqa: E402

from jamsos import billing_requests  # noqa: E402
from jamsos.adapters import invoice_documents, repository, views_billing  # noqa: E402
from jamsos.domain.coverage import JAKARTA  # noqa: E402
from jamsos.domain.period import Period  # noqa: E402
from jamsos.domain.tariff import Tariff, tariff_on  # noqa: E402
from jamsos.usecases import billing as billing_usecases  # noqa: E402

T = TypeVar("T")

invoice_app = typer.Typer(no_args_is_help=True, help="Invoices (tagihan) issued to the payers.")
app.add_typer(invoice_app, name="invoice")


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


async def _with_pool(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    pool = await db.create_pool(_database_url(settings), max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


@app.command()
def bill(
    period: str = typer.Argument(..., help="the month to bill, YYYY-MM"),
    timeout: float = typer.Option(120.0, help="seconds to wait for the billing service"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Request a billing run for PERIOD, wait for it, and print the invoices it issued."""
    settings = _configured(load_settings())
    month = _period(period)

    async def go(pool: asyncpg.Pool) -> tuple[billing_requests.RunResult, int]:
        async with pool.acquire() as conn:
            behind = await views_billing.ledger_behind(conn)
        return await billing_requests.bill(settings, pool, month, timeout=timeout), behind

    try:
        result, behind = asyncio.run(_with_pool(settings, go))
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
        console.print(invoice_documents.invoice_table(result.invoices, f"Issued for {month}"))
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
    month = None if period is None else _period(period)

    async def go(pool: asyncpg.Pool) -> list[views_billing.InvoiceRow]:
        async with pool.acquire() as conn:
            return await views_billing.list_invoices(conn, month)

    rows = asyncio.run(_with_pool(settings, go))
    if as_json:
        data = [dataclasses.asdict(r) for r in rows]
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        console.print(invoice_documents.invoice_table(rows))


async def _invoice(
    pool: asyncpg.Pool, invoice_no: str
) -> tuple[views_billing.InvoiceDetail, Tariff] | None:
    async with pool.acquire() as conn:
        detail = await views_billing.invoice_detail(conn, invoice_no)
        if detail is None:
            return None
        period = Period.parse(detail.invoice.period)
        return detail, tariff_on(await repository.tariffs(conn), period.first_day)


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
    found = asyncio.run(_with_pool(settings, lambda pool: _invoice(pool, invoice_no)))
    if found is None:
        raise _no_such_invoice(invoice_no)
    detail, _ = found
    if as_json:
        sys.stdout.write(json.dumps(dataclasses.asdict(detail), default=str, indent=2) + "\n")
    else:
        console.print(invoice_documents.lines_table(detail))


@invoice_app.command("export")
def invoice_export(
    invoice_no: str = typer.Argument(..., help="e.g. JMS-PEMKAB-KUDUS-202502-01"),
    out_dir: str = typer.Option(".", "--out", help="directory for INVOICE.pdf and INVOICE.csv"),
) -> None:
    """Write the invoice as PDF (Indonesian) and its per-participant lines as CSV."""
    settings = load_settings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pdf_path, csv_path = out / f"{invoice_no}.pdf", out / f"{invoice_no}.csv"

    async def go(pool: asyncpg.Pool) -> int | None:
        found = await _invoice(pool, invoice_no)
        if found is None:
            return None
        invoice_documents.write_pdf(*found, pdf_path)
        async with pool.acquire() as conn:
            return await invoice_documents.write_csv(conn, invoice_no, csv_path)

    lines = asyncio.run(_with_pool(settings, go))
    if lines is None:
        raise _no_such_invoice(invoice_no)
    console.print(f"wrote {pdf_path} and {csv_path} ({lines:,} participant lines)", highlight=False)


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
        _with_pool(settings, lambda pool: billing_usecases.pay(pool, invoice_no, paid_at))
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
    month = None if period is None else _period(period)
    result = asyncio.run(
        _with_pool(
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
    rupiah = invoice_documents.rupiah
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
