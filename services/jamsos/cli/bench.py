"""`jamsos bench` (the pipeline against the broker's own round trip) and `jamsos bench billing`:
figures on this machine, printed as a table or one JSON document; nothing is asserted."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from jamsos.cli.common import app, console
from jamsos.cli.errors import Failure
from jamsos.settings import KafkaSecurity, Settings, load_settings

bench_app = typer.Typer(
    invoke_without_command=True,
    help="Benchmarks on this machine: the pipeline (default) and billing.",
)
app.add_typer(bench_app, name="bench")


def _embedded_broker(settings: Settings) -> Settings:
    """The settings for a benchmark's own tansu: no configured broker, and none of its
    authentication either (tansu has no SASL; JAMSOS_KAFKA_SECURITY_* are for production)."""
    return replace(settings, kafka_bootstrap=None, kafka_security=KafkaSecurity())


def _database_name() -> str:
    return f"jamsos_bench_{os.getpid()}"


def _print(title: str, rows: list[tuple[str, str]], as_json: bool, doc: dict[str, Any]) -> None:
    if as_json:
        typer.echo(json.dumps(doc))
        return
    table = Table(title=title)
    table.add_column("what")
    table.add_column("measured", justify="right")
    for what, value in rows:
        table.add_row(what, value)
    console.print(table)


@bench_app.callback()
def bench(
    ctx: typer.Context,
    n: int = typer.Option(31_200, "--n", min=20, help="messages in the bulk feed"),
    as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout"),
    instances: int = typer.Option(
        1, "--instances", min=1, max=4, help="processes of each service, in the same groups"
    ),
    backlog: bool = typer.Option(
        False, "--backlog", help="publish the whole feed first, then start the services"
    ),
) -> None:
    """The pipeline: N submissions (80% valid, 10% cross-agency duplicates, 5% redeliveries,
    5% invalid) through `jamsos run registration|verification|billing` processes, against the
    raw aiokafka round trip of the same messages on the same embedded broker."""
    if ctx.invoked_subcommand is not None:
        return
    doc = _pipeline(n, instances, backlog)
    each = "" if instances == 1 else f", {instances} instances of each service"
    if backlog:
        _print_backlog(doc, f"jamsos bench --backlog, N = {n:,}{each}", as_json)
        return
    p, b, out = doc["pipeline"], doc["baseline"], doc["pipeline"]["outcomes"]
    rows = [
        ("feed", ", ".join(f"{v:,} {k}" for k, v in doc["mix"].items())),
        (
            "raw round trip (aiokafka, same broker)",
            f"{b['seconds']:.2f} s, {b['msg_per_s']:,.0f} msg/s",
        ),
        (
            "pipeline: first publish → last outcome",
            f"{p['seconds']:.2f} s, {p['submissions_per_s']:,.0f} submissions/s",
        ),
        ("pipeline / raw round trip", f"{doc['ratio']:.1%}"),
        (
            "latency per submission p50 / p99 / max",
            f"{p['latency_p50_s']:.2f} / {p['latency_p99_s']:.2f} / {p['latency_max_s']:.2f} s",
        ),
        ("publishing the feed", f"{p['publish_seconds']:.2f} s"),
        (
            "billing ledger holds every enrolment",
            f"{p['ledger_seconds']:.2f} s after the first publish",
        ),
        ("outcomes", ", ".join(f"{v:,} {k}" for k, v in out.items())),
        *[(f"peak RSS {name}", f"{mb:,.0f} MB") for name, mb in p["peak_rss_mb"].items()],
    ]
    _print(f"jamsos bench, N = {n:,}{each}", rows, as_json, doc)


def _pipeline(n: int, instances: int, backlog: bool) -> dict[str, Any]:
    """The pipeline run's document (`--backlog`: the backlog run's), on its own embedded broker
    and a fresh database, dropped after."""
    from jamsos import bootstrap
    from jamsos.adapters import bench as bench_db
    from jamsos.bench import pipeline

    settings = _embedded_broker(load_settings())
    name = _database_name()
    with (
        tempfile.TemporaryDirectory(prefix="jamsos-bench-") as tmp,
        bootstrap.infrastructure(
            replace(settings, state_dir=Path(tmp) / "state"), database=name
        ) as ready,
    ):
        assert ready.database_url is not None
        admin = bootstrap.with_database(ready.database_url, "postgres")
        try:
            run = pipeline.run_backlog if backlog else pipeline.run
            doc: dict[str, Any] = asyncio.run(run(ready, n, Path(tmp), instances))
        except pipeline.BenchFailed as error:
            raise Failure(str(error), code=1) from error
        finally:
            asyncio.run(bench_db.drop_database(admin, name))
    return doc


def _print_backlog(doc: dict[str, Any], title: str, as_json: bool) -> None:
    rows = [
        ("feed", ", ".join(f"{v:,} {k}" for k, v in doc["mix"].items())),
        ("publishing the backlog (services stopped)", f"{doc['publish_seconds']:.2f} s"),
        (
            "services start → every submission decided",
            f"{doc['drain_seconds']:.2f} s, {doc['submissions_per_s']:,.0f} submissions/s",
        ),
        ("billing ledger holds every enrolment", f"{doc['ledger_seconds']:.2f} s"),
        ("outcomes", ", ".join(f"{v:,} {k}" for k, v in doc["outcomes"].items())),
        (
            f"billing month {doc['billing_month']['period']}, request → invoice",
            f"{doc['billing_month']['seconds']:.2f} s, {doc['billing_month']['outcome']}: "
            + ", ".join(
                f"{i['invoice_no']} {i['participants']:,} Rp{i['amount']:,}"
                for i in doc["billing_month"]["invoices"]
            ),
        ),
        *[(f"peak RSS {name}", f"{mb:,.0f} MB") for name, mb in doc["peak_rss_mb"].items()],
    ]
    _print(title, rows, as_json, doc)


def _check_events(events: int) -> None:
    """The service's rate is timed from its first committed batch to its last: `events` must
    fill at least two batches."""
    size = load_settings().ledger_batch_size
    if events < 2 * size:
        raise typer.BadParameter(
            f"at least twice JAMSOS_LEDGER_BATCH_SIZE ({size:,}) are needed to time the service",
            param_hint="--events",
        )


def _billing(participants: int, batch: int, events: int) -> dict[str, Any]:
    """The billing run's document: the month with the use case on a fresh database, then the
    ledger intake through the service on its own embedded broker."""
    from jamsos import bootstrap
    from jamsos.adapters import bench as bench_db
    from jamsos.bench import billing, ledger_intake, pipeline

    settings = _embedded_broker(load_settings())
    name = _database_name()
    with (
        tempfile.TemporaryDirectory(prefix="jamsos-bench-") as tmp,
        bootstrap.infrastructure(replace(settings, state_dir=Path(tmp) / "state")) as ready,
    ):
        assert ready.database_url is not None
        admin = bootstrap.with_database(ready.database_url, "postgres")
        doc = asyncio.run(billing.run_fresh(admin, name, participants, batch, events))
        intake_db = replace(ready, database_url=bootstrap.with_database(admin, f"{name}_intake"))
        try:
            doc["service_intake"] = asyncio.run(ledger_intake.run(intake_db, events, Path(tmp)))
        except pipeline.BenchFailed as error:  # TooFewToTime among them
            raise Failure(str(error), code=1) from error
        finally:
            asyncio.run(bench_db.drop_database(admin, f"{name}_intake"))
    return doc


@bench_app.command("billing")
def bench_billing(
    participants: int = typer.Option(100_000, min=100, help="participants in the ledger"),
    batch: int = typer.Option(5_000, min=1, help="enrolled events per ledger batch (intake)"),
    events: int = typer.Option(
        200_000, min=1_000, help="enrolled events of the ledger intake benchmarks"
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout"),
) -> None:
    """One month for N participants with the billing use case: ledger intake of the enrolled
    events (the use case; then `jamsos run billing` on the broker against the floor of reading
    them without a database), first run, unchanged re-run, after 1% late enrolments + 1%
    terminations, CSV and XLSX export of the lines (time, peak RSS added), reconcile."""
    _check_events(events)
    doc = _billing(participants, batch, events)
    rate = participants / doc["first_run_seconds"] if doc["first_run_seconds"] else 0.0
    taken = doc["intake"]
    through = doc["service_intake"]
    service, floor = through["service"], through["floor_consume_and_read"]
    rows = [
        (
            f"ledger intake, the use case: {taken['events']:,} enrolled events"
            f" ({taken['batch']:,} a batch, no broker)",
            f"{taken['seconds']:.3f} s, {taken['events_per_s']:,.0f} events/s",
        ),
        (
            f"ledger intake through `jamsos run billing` on the broker"
            f" ({through['ledger_batch_size']:,} a batch: JAMSOS_LEDGER_BATCH_SIZE)",
            f"{service['events_per_s']:,.0f} events/s, {service['us_per_event']:.1f} µs of the"
            f" service's CPU an event, peak RSS {service['peak_rss_mb']:,.0f} MB",
        ),
        (
            "floor, no database: aiokafka takes the records / and reads them as the ledger",
            f"{through['floor_consume']['events_per_s']:,.0f} / {floor['events_per_s']:,.0f}"
            f" events/s ({floor['us_per_event']:.1f} µs CPU an event)",
        ),
        ("ledger intake through the service / floor", f"{through['ratio']:.1%}"),
        (
            "the machine's CPU in the service's window (every process, every core)",
            "window too short to read"
            if service["machine_us_per_event"] is None
            else f"{service['machine_us_per_event']:.1f} µs an event, {service['cores_busy']:.1f}"
            f" of {service['cores']} cores busy: ≈ {service['ceiling_events_per_s']:,.0f}"
            " events/s if every core were busy at this cost",
        ),
        (f"load {participants:,} coverage rows (COPY)", f"{doc['load_seconds']:.3f} s"),
        (
            "first run (accrual + REGULAR invoice)",
            f"{doc['first_run_seconds']:.3f} s, {rate:,.0f} rows/s",
        ),
        ("unchanged re-run (issues nothing)", f"{doc['unchanged_rerun_seconds']:.3f} s"),
        (
            f"after {doc['changed']:,} late enrolments + {doc['changed']:,} terminations",
            f"{doc['changed_rerun_seconds']:.3f} s",
        ),
        (
            f"CSV export, {doc['exported_lines']:,} lines ({doc['export_mb']:,.0f} MB)",
            f"{doc['export_seconds']:.3f} s, +{doc['export_peak_rss_added_mb']:,.0f} MB RSS",
        ),
        (
            f"XLSX workbook (streamed), {doc['xlsx_lines']:,} lines of the supplementary",
            f"{doc['xlsx_seconds']:.3f} s, +{doc['xlsx_peak_rss_added_mb']:,.0f} MB RSS",
        ),
        ("reconcile", f"{doc['reconcile_seconds']:.3f} s, {doc['mismatches']} mismatches"),
        (
            "invoices",
            ", ".join(
                f"{i['invoice_no']} {i['kind']} {i['participants']:,}" for i in doc["invoices"]
            ),
        ),
    ]
    _print(f"jamsos bench billing, {participants:,} participants", rows, as_json, doc)


@bench_app.command("targets")
def bench_targets(
    n: int = typer.Option(31_200, "--n", min=20, help="messages in the bulk feed"),
    participants: int = typer.Option(1_000_000, min=100, help="participants in the month"),
    events: int = typer.Option(
        200_000, min=1_000, help="enrolled events of the ledger intake benchmarks"
    ),
    backlog_n: int = typer.Option(
        1_000_000, "--backlog-n", min=20, help="messages in the backlog (bounded memory)"
    ),
    as_json: bool = typer.Option(False, "--json", help="one JSON document on stdout"),
) -> None:
    """Every target of issue 11 in one run: the pipeline with one and with two instances of
    each service, a month of N participants (first run, re-runs, export, ledger intake), and a
    backlog drained by services started after it; each figure against its target (the
    issue's targets are for these defaults). Takes 6-8 minutes at the defaults on two cores
    (measured). Exit 0 whether targets are met or not."""
    from jamsos.bench import targets

    _check_events(events)
    steps: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
        "pipeline": (f"the pipeline, N = {n:,}", lambda: _pipeline(n, 1, False)),
        "two_instances": (f"two instances, N = {n:,}", lambda: _pipeline(n, 2, False)),
        "billing": (
            f"billing, {participants:,} participants",
            lambda: _billing(participants, 5_000, events),
        ),
        "backlog": (f"a backlog of {backlog_n:,}", lambda: _pipeline(backlog_n, 1, True)),
    }
    runs: dict[str, dict[str, Any]] = {}
    for key, (what, run) in steps.items():
        # on stderr as each run ends (the runs take minutes; --json keeps stdout to itself)
        typer.echo(f"{len(runs) + 1}/{len(steps)} {what} …", err=True)
        runs[key] = run()
    judged = targets.evaluate(
        runs["pipeline"], runs["two_instances"], runs["billing"], runs["backlog"]
    )
    if as_json:
        typer.echo(json.dumps({"targets": [asdict(t) for t in judged], "runs": runs}))
        return
    table = Table(title="jamsos bench targets (issue 11, 2 cores)")
    for column in ("what", "measured", "target", "met?"):
        table.add_column(column)
    for t in judged:
        table.add_row(t.what, t.measured, t.target, "yes" if t.met else "[bold red]no[/]")
    console.print(table)
    met = sum(t.met for t in judged)
    cores = os.cpu_count() or 0
    console.print(f"{met} of {len(judged)} targets met on this machine ({cores} cores).")
    if (n, participants, backlog_n) != (31_200, 1_000_000, 1_000_000) or cores != 2:
        console.print(
            "The issue's targets are for 2 cores, N = 31,200, 1,000,000 participants and a"
            " backlog of 1,000,000: at other sizes or cores the verdicts only indicate."
        )
