"""`jamsos report`: enrolment progress, outcomes per agency and kecamatan, billing figures."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import asyncpg
import typer
from rich.table import Table

from jamsos.adapters import views, views_billing
from jamsos.cli.common import app, console, with_connection
from jamsos.settings import Settings, load_settings
from jamsos.workers.runtime import jakarta_now


async def report_data(settings: Settings) -> dict[str, Any]:
    """Everything `jamsos report` shows."""

    async def go(conn: asyncpg.Connection) -> dict[str, Any]:
        data = await views.registration_report(conn, settings.policy)
        data["billing"] = await _billing_report(conn, settings)
        return data

    return await with_connection(settings, go)


async def _billing_report(conn: asyncpg.Connection, settings: Settings) -> dict[str, Any]:
    """Billing figures: invoices, payments and arrears per period."""
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
        views_billing.print_billing_report(console, billing)


@app.command()
def report(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Enrolment progress against target, per agency and kecamatan, and billing figures."""
    data = asyncio.run(report_data(load_settings()))
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, indent=2) + "\n")
    else:
        print_report(data)
