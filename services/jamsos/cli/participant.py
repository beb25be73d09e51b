"""`jamsos participant show NIK`: one person's whole history, for operators (nothing masked)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from jamsos.cli.common import console, participant_app, with_pool
from jamsos.cli.errors import Failure
from jamsos.indonesian import rupiah
from jamsos.settings import load_settings

if TYPE_CHECKING:
    import asyncpg


def _reasons(reasons: list[dict[str, Any]]) -> str:
    return "; ".join(f"{r.get('code')}: {r.get('detail')}" for r in reasons)


def _review(review: Mapping[str, Any] | None) -> str:
    if review is None:
        return ""
    if review["decision"] is None:
        return f"held ({len(review['candidates'])} look-alike(s)), not decided"
    return f"held; {review['decision']} by {review['decided_by']} at {review['decided_at']}"


def print_history(data: Mapping[str, Any]) -> None:
    """The history as tables."""
    person = data["participant"] or {}
    name = person.get("full_name") or next(
        (s["full_name"] for s in data["submissions"] if s["full_name"]), "?"
    )
    console.print(
        f"[bold]{data['nik']}[/bold] {name} — status [bold]{data['status']}[/bold],"
        f" membership {data['membership_no'] or '-'}",
        highlight=False,
    )
    if person:
        console.print(
            f"enrolled {person['enrolled_at']} via {person['agency_code']}/"
            f"{person['submission_id']}, payer {person['payer_code']} ({person['funding_source']}),"
            f" coverage {person['coverage_start']} – {person['coverage_end'] or 'open'}"
            + (
                f", terminated {person['terminated_at']} ({person['termination_reason']})"
                if person["terminated_at"]
                else ""
            ),
            highlight=False,
        )
    submissions = Table(
        "received",
        "agency",
        "submission",
        "outcome",
        "decided",
        "reasons / review",
        title="Submissions (pengajuan)",
    )
    for s in data["submissions"]:
        detail = _reasons(s["reasons"]) or _review(s["review"])
        if s["outcome"] == "duplicate":
            detail = detail or f"NIK already held by {s['existing_agency_code']}"
        submissions.add_row(
            s["received_at"],
            s["agency_code"],
            s["submission_id"],
            s["outcome"],
            s["decided_at"] or "",
            detail,
        )
    console.print(submissions)
    if data["coverage"]:
        coverage = Table("membership", "start", "end", "agency", "payer", title="Coverage")
        for c in data["coverage"]:
            coverage.add_row(
                c["membership_no"],
                c["coverage_start"],
                c["coverage_end"] or "open",
                c["agency_code"] or "",
                c["payer_code"] or "",
            )
        console.print(coverage)
    if data["terminations"]:
        ends = Table(
            "decided",
            "requested by",
            "request",
            "reason",
            "effective",
            "status",
            "coverage end",
            title="Terminations",
        )
        for t in data["terminations"]:
            ends.add_row(
                t["decided_at"],
                t["agency_code"],
                t["request_id"],
                t["reason"],
                t["effective_date"],
                t["status"],
                t["coverage_end"] or "",
            )
        console.print(ends)
    if data["charges"]:
        charges = Table(
            "period", "amount", "invoice", "invoice status", "credited by", title="Charges"
        )
        for ch in data["charges"]:
            charges.add_row(
                ch["period"],
                rupiah(ch["amount"]),
                ch["invoice_no"],
                ch["invoice_status"] or "",
                ch["credit_invoice_no"] or "",
            )
        console.print(charges)


@participant_app.command("show")
def participant_show(
    nik: str = typer.Argument(..., help="the worker's 16-digit NIK"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """One person's whole history: submissions from every agency, review, enrolment, coverage,
    terminations, charges and their invoices."""
    from jamsos.adapters.participant_history import participant_history

    nik = nik.strip()
    if len(nik) != 16 or not nik.isascii() or not nik.isdigit():
        raise Failure(f"{nik!r} is not a NIK: a NIK is 16 digits")

    async def go(pool: asyncpg.Pool) -> dict[str, Any] | None:
        async with pool.acquire() as conn:
            return await participant_history(conn, nik)

    data = asyncio.run(with_pool(load_settings(), go))
    if data is None:
        raise Failure(f"no submission or participant with NIK {nik}", code=1)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    else:
        print_history(data)
