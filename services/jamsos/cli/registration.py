"""Registration and operations commands: up, run, topics, db, submit, report, review, ops dlq,
demo, asyncapi."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import typer
from rich.table import Table

from jamsos import bootstrap
from jamsos.adapters import db, views
from jamsos.adapters.kafka import create_topics, wait_for_broker
from jamsos.adapters.spreadsheet import read_workers
from jamsos.cli.common import (
    app,
    configured,
    console,
    db_app,
    dlq_app,
    review_app,
    topics_app,
    with_connection,
)
from jamsos.publishing import publish_raw, publish_submissions
from jamsos.settings import Settings, load_settings
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics


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
        # plain lines (never wrapped) so that they can be pasted into another shell
        typer.echo(f"export JAMSOS_KAFKA_BOOTSTRAP={ready.kafka_bootstrap}")
        typer.echo(f"export JAMSOS_DATABASE_URL='{ready.database_url}'")
        asyncio.run(_serve(ready, bootstrap.service_names(services)))


@app.command()
def run(
    service: str = typer.Argument(..., help="registration, verification, billing or all"),
) -> None:
    """Run one service against the configured broker and database."""
    settings = configured(load_settings())
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

    async def go(conn: asyncpg.Connection) -> list[str]:
        applied = await db.migrate(conn)
        await db.sync_agencies(conn, settings.policy.agencies)
        return applied

    applied = asyncio.run(with_connection(settings, go))
    console.print(f"applied: {', '.join(applied) if applied else 'nothing (up to date)'}")


def _submit_json(settings: Settings, file: Path) -> None:
    """Publish JSON (an object or a list) or JSONL payloads as they are; lines or items that are
    not JSON objects are reported and not published (exit code 1)."""
    text = file.read_text("utf-8")
    problems: list[tuple[int, str]] = []
    payloads: list[dict[str, Any]] = []
    if file.suffix.lower() == ".jsonl":
        items: list[tuple[int, str]] = [
            (n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()
        ]
        for n, line in items:
            try:
                payload = json.loads(line)
            except ValueError as error:
                problems.append((n, f"not JSON: {error}"))
                continue
            if isinstance(payload, dict):
                payloads.append(payload)
            else:
                problems.append((n, "not a JSON object"))
    else:
        try:
            doc = json.loads(text)
        except ValueError as error:
            console.print(f"[red]{file} is not JSON: {error}[/red]")
            raise typer.Exit(1) from error
        for n, payload in enumerate(doc if isinstance(doc, list) else [doc], 1):
            if isinstance(payload, dict):
                payloads.append(payload)
            else:
                problems.append((n, "not a JSON object"))
    sent = asyncio.run(publish_submissions(settings, payloads)) if payloads else 0
    console.print(f"published {sent} submission(s) to {topics.SUBMITTED}", highlight=False)
    if problems:
        table = Table("line/item", "problem", title="Not published")
        for n, problem in problems:
            table.add_row(str(n), problem)
        console.print(table)
        raise typer.Exit(1)


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
        _submit_json(settings, file)
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


async def report_data(settings: Settings) -> dict[str, Any]:
    """Everything `jamsos report` shows."""

    async def go(conn: asyncpg.Connection) -> dict[str, Any]:
        data = await views.registration_report(conn, settings.policy)
        data["billing"] = await _billing_report(conn, settings)
        return data

    return await with_connection(settings, go)


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
    data = asyncio.run(report_data(load_settings()))
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        print_report(data)


@dlq_app.command("list")
def dlq_list(limit: int = typer.Option(50)) -> None:
    """Show the most recent dead letters."""
    rows = asyncio.run(with_connection(load_settings(), lambda c: views.dead_letters(c, limit)))
    table = Table("event_id", "from", "error", "failed at", "replayed")
    for row in rows:
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
    settings = configured(load_settings())

    async def go(conn: asyncpg.Connection) -> str:
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

    topic = asyncio.run(with_connection(settings, go))
    if not topic:
        console.print(f"[red]no dead letter {event_id}[/red]")
        raise typer.Exit(1)
    console.print(f"replayed {event_id} to {topic}", highlight=False)


@review_app.command("list")
def review_list(limit: int = typer.Option(100)) -> None:
    """Submissions held because they look like a participant under another NIK."""
    held = asyncio.run(with_connection(load_settings(), lambda c: views.held_submissions(c, limit)))

    table = Table(
        "agency", "submission", "NIK", "name", "born", "looks like (membership, NIK, name, score)"
    )
    for row in held:
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

    settings = configured(load_settings())
    if decision.upper() not in ("ENROL", "DUPLICATE"):
        console.print("[red]decision must be ENROL or DUPLICATE[/red]")
        raise typer.Exit(2)

    async def go(conn: asyncpg.Connection) -> bool:
        nik = await conn.fetchval(
            "SELECT nik FROM submissions WHERE agency_code = $1 AND submission_id = $2"
            " AND status = 'REVIEW'",
            agency,
            submission_id,
        )
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

    if not asyncio.run(with_connection(settings, go)):
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
