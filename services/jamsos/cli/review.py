"""`jamsos review list|decide`: submissions held as look-alikes, and resolving them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from jamsos.cli.common import configured, console, review_app, with_connection
from jamsos.cli.errors import Failure
from jamsos.settings import load_settings
from jamsos_schemas import topics

if TYPE_CHECKING:
    import asyncpg


@review_app.command("list")
def review_list(limit: int = typer.Option(100)) -> None:
    """Submissions held because they look like a participant under another NIK."""
    from jamsos.adapters import views

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
    submission_id: str = typer.Argument(
        ..., help="the held submission's id, or its first characters (`jamsos review list`)"
    ),
    decision: str = typer.Argument(..., help="ENROL or DUPLICATE"),
    by: str = typer.Option(..., "--by", help="who decides (kept on the submission)"),
) -> None:
    """Resolve a held submission: publishes `registration.review-decided` (key: its NIK)."""
    from jamsos.adapters import views
    from jamsos.publishing import publish_model
    from jamsos.workers.runtime import jakarta_now
    from jamsos_schemas.registration import RegistrationReviewDecidedV1

    settings = configured(load_settings())
    if decision.upper() not in ("ENROL", "DUPLICATE"):
        console.print("[red]decision must be ENROL or DUPLICATE[/red]")
        raise typer.Exit(2)

    async def go(conn: asyncpg.Connection) -> str | None:
        held = await views.held_matching(conn, agency, submission_id)
        if not held:
            return None
        if len(held) > 1 and held[0][0] != submission_id:
            shown = ", ".join(sid for sid, _ in held[:3]) + (", …" if len(held) > 3 else "")
            raise Failure(
                f"{submission_id!r} matches several held submissions of {agency} ({shown}):"
                " give more characters"
            )
        [(chosen, nik), *_] = held
        command = RegistrationReviewDecidedV1(
            agency_code=agency,
            submission_id=chosen,
            decision=decision.upper(),
            decided_by=by,
            decided_at=jakarta_now(),
        )
        await publish_model(settings, topics.REVIEW_DECIDED, nik, command)
        return chosen

    chosen = asyncio.run(with_connection(settings, go))
    if chosen is None:
        console.print(f"[red]{agency}/{submission_id} is not held for review[/red]")
        raise typer.Exit(1)
    console.print(f"published {decision.upper()} for {agency}/{chosen}", highlight=False)
