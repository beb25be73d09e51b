"""`jamsos report`: enrolment progress, outcomes per agency and kecamatan, billing figures."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import typer
from rich.table import Table

from jamsos.cli.common import app, console, database_url
from jamsos.indonesian import number, rupiah
from jamsos.settings import load_settings


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
    outcomes.add_row(
        "dead letters (DLQ)",
        f"{data['dead_letters']:,} ({data['dead_letters_open']:,} open)",
    )
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
    console.print(
        f"pipeline: outbox backlog {data['outbox_unpublished']:,},"
        f" last batch processed {data['last_processed_at'] or 'never'}",
        highlight=False,
    )
    billing = data.get("billing")
    if billing:
        print_billing(billing)


@app.command()
def report(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Enrolment progress against target, per agency and kecamatan, and billing figures."""
    from jamsos.reporting import report_data, report_json

    settings = load_settings()
    data = asyncio.run(report_data(replace(settings, database_url=database_url(settings))))
    if as_json:
        sys.stdout.write(report_json(data) + "\n")
    else:
        print_report(data)


def print_billing(data: Mapping[str, Any]) -> None:
    """The report's billing section as tables, warnings first."""
    for warning in data["warnings"]:
        console.print(f"[bold red]WARNING[/bold red] {warning}", highlight=False)
    periods = Table(
        "period",
        "invoices",
        "participants (net)",
        "amount (net)",
        "paid",
        "outstanding",
        "due",
        "months in arrears",
        title="Billing per period",
    )
    for p in data["periods"]:
        due = p["due_date"] if isinstance(p["due_date"], str) else p["due_date"].isoformat()
        periods.add_row(
            p["period"],
            str(p["invoices"]),
            number(p["participants"]),
            rupiah(p["amount"]),
            rupiah(p["paid"]),
            rupiah(p["outstanding"]),
            f"{due}{' OVERDUE' if p['overdue'] else ''}",
            str(p["months_in_arrears"]),
        )
    console.print(periods)
    if data["latest_period"]:
        agencies = Table(
            "agency",
            "funding",
            "participants",
            "amount",
            title=f"Billed for {data['latest_period']} per agency (net)",
        )
        for line in data["latest_by_agency"]:
            agencies.add_row(
                line["agency_code"],
                line["funding_source"],
                number(line["participants"]),
                rupiah(line["amount"]),
            )
        for source, amount in data["latest_by_funding_source"].items():
            agencies.add_row("", f"Σ {source}", "", rupiah(amount), style="bold")
        console.print(agencies)
