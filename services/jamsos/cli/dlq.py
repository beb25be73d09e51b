"""`jamsos ops dlq list|replay|discard`: dead letters (jamsos.dlq.v1), publishing them back, or
dropping them with a reason. Every command takes an event id or any unambiguous prefix of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from jamsos.cli.common import configured, console, dlq_app, with_connection
from jamsos.cli.errors import Failure
from jamsos.domain.coverage import JAKARTA
from jamsos.settings import load_settings

if TYPE_CHECKING:
    import asyncpg

_HEX = re.compile(r"[0-9a-f]+")


async def resolve(conn: asyncpg.Connection, text: str) -> str:
    """The one dead letter's event id that `text` (a full id or a prefix of it) names."""
    from jamsos.adapters import dead_letters

    digits = text.strip().lower().replace("-", "")
    if not digits or not _HEX.fullmatch(digits) or len(digits) > 32:
        raise Failure(
            f"{text!r} is not a dead-letter id: give its event_id or its first characters"
            " (see `jamsos ops dlq list`)"
        )
    found = await dead_letters.ids_with_prefix(conn, digits)
    if not found:
        raise Failure(
            f"no dead letter has an id starting with {text!r} (see `jamsos ops dlq list --all`)", 1
        )
    if len(found) > 1:
        shown = ", ".join(found[:3]) + (", …" if len(found) > 3 else "")
        raise Failure(f"{text!r} matches several dead letters ({shown}): give more characters")
    return found[0]


def _payload(value: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _identity(row: dict[str, Any]) -> tuple[str, str]:
    """(agency, submission or request id) read from the letter's bytes, when it has them."""
    payload = _payload(bytes(row["value"]))
    agency = payload.get("agency_code")
    ident = payload.get("submission_id") or payload.get("request_id")
    return (agency if isinstance(agency, str) else "—", ident if isinstance(ident, str) else "—")


def _state(row: dict[str, Any]) -> str:
    if row["discarded_at"] is not None:
        return "discarded"
    if row["replayed_at"] is not None:
        return "replayed"
    return "open"


@dlq_app.command("list")
def dlq_list(
    limit: int = typer.Option(50, help="at most this many, newest first"),
    include_closed: bool = typer.Option(
        False, "--all", help="also the letters already replayed or discarded"
    ),
) -> None:
    """Show the most recent dead letters: full id, agency, submission id and error."""
    from jamsos.adapters import dead_letters

    rows = asyncio.run(
        with_connection(
            load_settings(),
            lambda c: dead_letters.dead_letters(c, limit, include_closed=include_closed),
        )
    )
    # the terminal's own width (80 columns fit): the id never wraps, the error does
    table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    table.add_column("id / failed (WIB), state", no_wrap=True, width=36)
    table.add_column("agency/submission", overflow="fold", width=18)
    table.add_column("error", overflow="fold", ratio=1)
    for n, row in enumerate(rows):
        if n:
            table.add_row()
        agency, ident = _identity(row)
        failed = row["failed_at"].astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M")
        table.add_row(
            f"{row['event_id']}\n{failed} {_state(row)}",
            f"{agency}\n{ident}",
            str(row["error"]).replace(": ", ":\n", 1)
            + ("" if row["discard_reason"] is None else f"\ndiscarded: {row['discard_reason']}"),
        )
    Console(highlight=False).print(table)
    if not rows:
        console.print("no open dead letters" if not include_closed else "no dead letters")


def _code(row: dict[str, Any]) -> str:
    """The dead letter's error code (its text may quote the record: not for the audit log)."""
    return str(row["error"]).split(":", 1)[0]


def _refusal(conn_row: dict[str, Any], taken: dict[str, Any] | None, letter: str) -> str | None:
    """Why replaying the letter would only dead-letter it again, or None."""
    code = str(conn_row["error"]).split(":", 1)[0]
    if code == "MESSAGE_TOO_LARGE":  # only a prefix of the record was kept (README, DLQ)
        return (
            f"not replayed: {code}: the dead letter keeps only the first bytes of the record,"
            " not the record. Ask its sender for it again, within JAMSOS_MAX_MESSAGE_BYTES,"
            f" then `jamsos ops dlq discard {letter[:8]} --reason TEXT`"
        )
    if not code.endswith("_ID_REUSED"):
        return None
    agency, ident = _identity(conn_row)
    holder = ""
    if taken is not None:
        received = taken["received_at"].astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M")
        holder = f" (status {taken['status']}, received {received} WIB)"
    return (
        f"not replayed: {code}: {agency}/{ident} already belongs to a message with other"
        f" content{holder}, so these bytes would be dead-lettered again. Send the corrected"
        f" data under a new id, then `jamsos ops dlq discard {letter[:8]} --reason TEXT`"
    )


@dlq_app.command("replay")
def dlq_replay(
    event_id: str = typer.Argument(..., help="the dead letter's event_id, or a prefix of it"),
) -> None:
    """Publish a dead letter's original bytes and headers back to its source topic (e.g. after
    a fix); it is checked again like any record, signature included."""
    from jamsos.adapters import audit, dead_letters
    from jamsos.adapters.dead_letters import headers_from_json
    from jamsos.publishing import publish_raw
    from jamsos.usecases.rows import AuditAction, AuditEntry

    settings = configured(load_settings())

    async def go(conn: asyncpg.Connection) -> tuple[str, str]:
        letter = await resolve(conn, event_id)
        row = await dead_letters.dead_letter(conn, letter)
        assert row is not None
        if row["discarded_at"] is not None:
            raise Failure(
                f"{letter} was discarded ({row['discard_reason']}): it is not replayed", 1
            )
        agency, ident = _identity(row)
        taken = await dead_letters.submission_state(conn, agency, ident)
        refusal = _refusal(row, taken, letter)
        if refusal is not None:
            raise Failure(refusal, 1)
        # The original headers go with the bytes: a signed letter stays signed, and an unsigned
        # or forged one meets the signature check again (UNAUTHENTICATED again).
        original = headers_from_json(row["headers"])
        await publish_raw(
            settings, row["source_topic"], [(row["key"], row["value"])], headers=lambda _: original
        )
        entry = AuditEntry(
            settings.actor,
            AuditAction.DLQ_REPLAY,
            letter,
            detail={"source_topic": row["source_topic"], "error": _code(row)},
        )
        async with conn.transaction():  # the mark and who made it, together
            await dead_letters.mark_replayed(conn, letter)
            await audit.add(conn, [entry], dt.datetime.now(dt.UTC))
        return letter, str(row["source_topic"])

    letter, topic = asyncio.run(with_connection(settings, go))
    console.print(f"replayed {letter} to {topic}", highlight=False)


@dlq_app.command("discard")
def dlq_discard(
    event_id: str = typer.Argument(..., help="the dead letter's event_id, or a prefix of it"),
    reason: str = typer.Option(..., "--reason", help="why it is dropped (kept with the letter)"),
) -> None:
    """Drop a dead letter that must not be replayed, recording why (its bytes are kept)."""
    from jamsos.adapters import audit, dead_letters
    from jamsos.usecases.rows import AuditAction, AuditEntry

    if not reason.strip():
        raise Failure("--reason must say why the dead letter is dropped")
    settings = load_settings()

    async def go(conn: asyncpg.Connection) -> str:
        letter = await resolve(conn, event_id)
        row = await dead_letters.dead_letter(conn, letter)
        assert row is not None
        if row["discarded_at"] is not None:
            raise Failure(f"{letter} was already discarded ({row['discard_reason']})", 1)
        entry = AuditEntry(
            settings.actor,
            AuditAction.DLQ_DISCARD,
            letter,
            reason.strip(),
            {"source_topic": row["source_topic"], "error": _code(row)},
        )
        async with conn.transaction():  # the discard and who made it, together
            await dead_letters.mark_discarded(conn, letter, reason.strip())
            await audit.add(conn, [entry], dt.datetime.now(dt.UTC))
        return letter

    letter = asyncio.run(with_connection(settings, go))
    console.print(f"discarded {letter}: {reason.strip()}", highlight=False)
