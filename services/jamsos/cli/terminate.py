"""`jamsos terminate`: an agency asks to end a participant's coverage, and sees the result."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from jamsos.cli.common import app, configured, console, with_connection
from jamsos.cli.errors import Failure
from jamsos.cli.keys import signer
from jamsos.cli.submit import POLL_SECONDS, registered_agency
from jamsos.settings import load_settings
from jamsos_schemas import topics
from jamsos_schemas.enums import TerminationReason

if TYPE_CHECKING:
    import asyncpg


@app.command()
def terminate(
    nik: str = typer.Argument(..., help="the participant's NIK (16 digits)"),
    agency: str = typer.Option(..., "--agency", help="agency (OPD) code asking"),
    reason: TerminationReason = typer.Option(..., "--reason", case_sensitive=False),
    effective: str = typer.Option(..., "--effective", help="YYYY-MM-DD (or DD-MM-YYYY)"),
    timeout: float = typer.Option(60, help="seconds to wait for the enrolment side"),
    key: Path = typer.Option(None, "--key", help="the agency's private key: sign the request"),
) -> None:
    """Ask to end a participant's coverage (`participant.termination-requested`); coverage ends
    on the last day of the month of `--effective`."""
    from jamsos.adapters.spreadsheet import Unreadable, parse_date
    from jamsos.adapters.submission_lookup import termination
    from jamsos.publishing import publish_model
    from jamsos_schemas.participant import ParticipantTerminationRequestedV1

    settings = load_settings()
    code = registered_agency(settings, agency)
    sign = signer(settings, code, key)
    nik = nik.strip()
    if not (len(nik) == 16 and nik.isdigit()):
        raise Failure(f"NIK must be 16 digits, got {nik!r}")
    try:
        day = parse_date(effective)
    except Unreadable as error:
        raise Failure(f"--effective: {error}") from None
    configured(settings)
    cause = f"{code}|{nik}|{reason.value}|{day.isoformat()}"
    request_id = f"{code}-T-{hashlib.sha256(cause.encode()).hexdigest()[:16]}"
    request = ParticipantTerminationRequestedV1(
        request_id=request_id, agency_code=code, nik=nik, reason=reason, effective_date=day
    )

    async def run() -> Any:
        headers = None if sign is None else sign.headers
        await publish_model(settings, topics.TERMINATION_REQUESTED, nik, request, headers)
        console.print(f"published termination request {request_id}", highlight=False)

        async def wait(conn: asyncpg.Connection) -> Any:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while (done := await termination(conn, request_id)) is None:
                if loop.time() > deadline:
                    return None
                await asyncio.sleep(POLL_SECONDS)
            return done

        return await with_connection(settings, wait)

    done = asyncio.run(run())
    if done is None:
        console.print(
            f"[yellow]not processed within {timeout:g}s[/yellow]: is `jamsos run all` running?"
        )
        raise typer.Exit(1)
    if done.status == "NOT_FOUND":
        console.print(f"[red]NIK {nik} is not a participant (NOT_FOUND): nothing changed[/red]")
        raise typer.Exit(1)
    end = done.coverage_end.isoformat() if done.coverage_end else "?"
    console.print(
        f"terminated {done.membership_no}: coverage ends {end} ({reason.value})", highlight=False
    )
