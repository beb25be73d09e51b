"""`jamsos submit` and `jamsos submission status`: what an agency clerk sends, and what became
of it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jamsos.cli.common import app, configured, console, with_connection
from jamsos.cli.errors import Failure
from jamsos.cli.keys import signer
from jamsos.settings import Settings, load_settings
from jamsos_schemas import topics

if TYPE_CHECKING:
    import asyncpg

    from jamsos.adapters.signatures import Signer
    from jamsos.usecases.intake import Planned, ResultLine
    from jamsos.usecases.rows import Known, SheetResult

submission_app = typer.Typer(no_args_is_help=True, help="What became of an agency's submissions.")
app.add_typer(submission_app, name="submission")

POLL_SECONDS = 0.5


def _submit_json(settings: Settings, file: Path, sign: Signer | None) -> None:
    """Publish JSON (an object or a list) or JSONL payloads as they are; lines or items that are
    not JSON objects are reported and not published (exit code 1)."""
    from jamsos.publishing import publish_submissions

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
    headers = None if sign is None else sign.headers
    sent = asyncio.run(publish_submissions(settings, payloads, headers)) if payloads else 0
    console.print(f"published {sent} submission(s) to {topics.SUBMITTED}", highlight=False)
    if problems:
        table = Table("line/item", "problem", title="Not published")
        for n, problem in problems:
            table.add_row(str(n), problem)
        console.print(table)
        raise typer.Exit(1)


def registered_agency(settings: Settings, code: str) -> str:
    """The agency code as registered (case ignored); an unknown one ends the command (exit 2)."""
    normalised = code.strip().upper()
    if settings.policy.agency(normalised) is None:
        known = ", ".join(a.code for a in settings.policy.agencies)
        raise Failure(f"unknown agency {code!r}: the registered agencies (OPD) are {known}")
    return normalised


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


async def _known(conn: asyncpg.Connection, agency: str, ids: Sequence[str]) -> dict[str, Known]:
    from jamsos.adapters.submission_lookup import agency_submissions

    return {k.submission_id: k for k in await agency_submissions(conn, agency, ids, [])}


async def _follow(
    conn: asyncpg.Connection,
    agency: str,
    planned: Sequence[Planned],
    since: dt.datetime,
    outcomes: bool,
    timeout: float,
) -> tuple[dict[str, Known], dict[str, str]]:
    """Wait until registration recorded every published row (and, with `outcomes`, every shown
    row has an outcome: anything but RECEIVED) or dead-lettered it, or until `timeout`."""
    from jamsos.adapters.submission_lookup import dead_letters_since
    from jamsos.usecases.intake import digest, payload_bytes

    sent = {
        p.line.submission.submission_id: p.line.submission
        for p in planned
        if p.publish and p.line.submission is not None
    }
    by_value = {payload_bytes(s): sid for sid, s in sent.items()}
    watched = {p.shows for p in planned if p.shows} if outcomes else set(sent)
    found: dict[str, Known] = {}
    dead: dict[str, str] = {}
    pending = set(watched)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    what = "waiting for outcomes" if outcomes else "waiting for registration"
    with _progress() as progress:
        task = progress.add_task(what, total=len(watched))
        while True:
            for sid, known in (await _known(conn, agency, sorted(pending))).items():
                fresh = sid not in sent or known.content_hash == digest(sent[sid])
                if fresh and (not outcomes or known.status != "RECEIVED"):
                    found[sid] = known
                    pending.discard(sid)
            for value, error in await dead_letters_since(conn, topics.SUBMITTED, since):
                letter = by_value.get(value)
                if letter is not None and letter in pending:
                    dead[letter] = error
                    pending.discard(letter)
            progress.update(task, completed=len(watched) - len(pending))
            if not pending or loop.time() > deadline:
                break
            await asyncio.sleep(POLL_SECONDS)
    if outcomes:  # rows waited on but still in flight show as such
        found |= {k: v for k, v in (await _known(conn, agency, sorted(pending))).items()}
    return found, dead


async def _submit_sheet(
    settings: Settings,
    file: Path,
    agency: str,
    sheet: SheetResult,
    wait: bool,
    timeout: float,
    sign: Signer | None,
) -> tuple[list[Planned], list[ResultLine] | None, dict[str, str], int]:
    from jamsos.adapters.submission_lookup import agency_submissions, database_now
    from jamsos.publishing import publish_raw
    from jamsos.usecases.intake import lookup_keys, payload_bytes, plan, results

    async def work(conn: asyncpg.Connection) -> tuple[Any, ...]:
        ids, niks = lookup_keys(sheet.lines)
        planned = plan(sheet.lines, await agency_submissions(conn, agency, ids, niks))
        to_send = [p.line.submission for p in planned if p.publish and p.line.submission]
        since = await database_now(conn)
        with _progress() as progress:
            task = progress.add_task(f"publishing {file.name}", total=len(to_send))
            await publish_raw(
                settings,
                topics.SUBMITTED,
                [(s.worker.nik.encode(), payload_bytes(s)) for s in to_send],
                lambda n: progress.update(task, completed=n),
                headers=None if sign is None else sign.headers,
            )
        found, dead = await _follow(conn, agency, planned, since, wait, timeout)
        done = found.keys() | dead.keys()
        pending = sum(1 for s in to_send if s.submission_id not in done)
        if not wait:
            return planned, None, dead, pending
        shown = await _known(conn, agency, sorted({p.shows for p in planned if p.shows}))
        lines = results(planned, shown, dead)
        waiting = sum(1 for line in lines if line.code == "IN_PROCESS")
        return planned, lines, dead, waiting

    planned, lines, dead, pending = await with_connection(settings, work)
    return planned, lines, dead, pending


def _print_counts(file: Path, planned: Sequence[Planned], skipped_example: bool) -> None:
    from jamsos.usecases.intake import Kind

    kinds = Counter(p.kind for p in planned)
    corrected = kinds[Kind.CORRECTED] + kinds[Kind.NOT_SENT]
    text = (
        f"{file.name}: {len(planned)} baris: {kinds[Kind.NEW]} baru (new), "
        f"{kinds[Kind.UNCHANGED]} tidak berubah (unchanged, sudah dikirim), "
        f"{corrected} perbaikan (corrected)"
    )
    if kinds[Kind.NOT_SENT]:
        text += f", {kinds[Kind.NOT_SENT]} di antaranya tidak dikirim (sudah terdaftar/diproses)"
    text += f", {kinds[Kind.ERROR]} dengan kesalahan (with errors)"
    sent = kinds[Kind.NEW] + kinds[Kind.CORRECTED]
    console.print(f"{text}; {sent} dikirim (published)", highlight=False)
    if skipped_example:
        console.print("baris contoh dari templat dilewati (the template's example row)")


def _print_errors(planned: Sequence[Planned]) -> None:
    errors = [e for p in planned for e in p.line.errors]
    if not errors:
        return
    table = Table("baris", "kolom", "masalah", title="Baris yang tidak dikirim (not published)")
    for error in errors:
        table.add_row(str(error.row), error.column or "", error.message)
    console.print(table)


def _print_outcomes(lines: Sequence[ResultLine]) -> None:
    counts = Counter((line.code, line.outcome) for line in lines)
    table = Table("kode", "hasil", "baris", title="Hasil per baris (outcomes)")
    for (code, outcome), n in sorted(counts.items()):
        table.add_row(code, outcome, str(n))
    console.print(table)


@app.command()
def submit(
    file: Path = typer.Argument(None, exists=True, dir_okay=False, help="CSV, XLSX, JSON or JSONL"),
    agency: str = typer.Option(None, "--agency", help="agency (OPD) code; required for CSV/XLSX"),
    wait: bool = typer.Option(False, "--wait", help="wait for every row's outcome, write results"),
    timeout: float = typer.Option(
        None, help="seconds to wait for registration (default 120) or the outcomes (600)"
    ),
    template: Path = typer.Option(None, "--template", help="write the XLSX template here and exit"),
    key: Path = typer.Option(None, "--key", help="the agency's private key: sign what is sent"),
) -> None:
    """Publish a clerk's list of workers as submissions, with a per-row report.

    CSV/XLSX rows become submissions of `--agency`. Rows already submitted unchanged are not
    sent again; rows with errors are not sent. `submit` waits until registration has recorded
    what it sent; with `--wait` it waits for every row's outcome and writes `<name>.hasil.xlsx`
    and `<name>.hasil.csv` beside the file, one line per row. The exit code is 1 when a row had
    an error, went to the DLQ, or was not confirmed before `--timeout`. JSON (one object or a
    list) and JSONL are published as they are (the contract's payloads). With `--key` every
    message is signed as `--agency` (headers jamsos-agency, jamsos-signature).
    """
    from jamsos.adapters.spreadsheet import read_workers
    from jamsos.adapters.workbooks import write_results, write_template
    from jamsos.usecases.intake import Kind
    from jamsos.workers.runtime import jakarta_now

    if template is not None:
        write_template(template)
        console.print(f"templat ditulis (template written): {template}", highlight=False)
        return
    if file is None:
        raise Failure("give a FILE to submit, or --template FILE.xlsx")
    settings = load_settings()
    if file.suffix.lower() in (".json", ".jsonl"):
        if key is not None and not agency:
            raise Failure("--key signs as an agency: give --agency too")
        sign = signer(settings, registered_agency(settings, agency), key) if key else None
        _submit_json(configured(settings), file, sign)
        return
    if not agency:
        raise Failure("--agency is required for CSV/XLSX files")
    code = registered_agency(settings, agency)
    sign = signer(settings, code, key)
    configured(settings)
    sheet = read_workers(file, code, jakarta_now())
    if sheet.file_errors:
        raise Failure(f"{file.name}: {sheet.file_errors[0].message}", code=1)
    if timeout is None:
        timeout = 600 if wait else 120
    planned, lines, dead, pending = asyncio.run(
        _submit_sheet(settings, file, code, sheet, wait, timeout, sign)
    )
    _print_counts(file, planned, sheet.skipped_example)
    _print_errors(planned)
    if lines is not None:
        _print_outcomes(lines)
        xlsx, csv_path = write_results(file, lines)
        console.print(f"hasil (results): {xlsx} , {csv_path}", highlight=False)
    if dead:
        console.print(
            f"[red]{len(dead)} row(s) went to the DLQ (jamsos.dlq.v1)[/red]: "
            + "; ".join(sorted(set(dead.values())))[:300],
            highlight=False,
        )
    if pending:
        console.print(
            f"[yellow]{pending} row(s) not confirmed within {timeout:g}s[/yellow]: is"
            " `jamsos run all` running? See `jamsos submission status` later.",
            highlight=False,
        )
    if dead or pending or any(p.kind is Kind.ERROR for p in planned):
        raise typer.Exit(1)


@submission_app.command("status")
def submission_status(
    agency: str = typer.Option(..., "--agency", help="agency (OPD) code"),
    file: Path = typer.Option(None, "--file", exists=True, dir_okay=False, help="CSV/XLSX sent"),
    nik: str = typer.Option(None, "--nik", help="one worker's NIK"),
) -> None:
    """What became of a file's rows (writes `<name>.hasil.xlsx/.csv` again) or of one NIK."""
    from jamsos.adapters.spreadsheet import read_workers
    from jamsos.adapters.submission_lookup import agency_submissions
    from jamsos.adapters.workbooks import write_results
    from jamsos.usecases.intake import lookup_keys, plan, results
    from jamsos.workers.runtime import jakarta_now

    settings = load_settings()
    code = registered_agency(settings, agency)
    if (file is None) == (nik is None):
        raise Failure("give exactly one of --file or --nik")
    configured(settings)
    if nik is not None:
        _status_nik(settings, code, nik.strip())
        return
    assert file is not None
    sheet = read_workers(file, code, jakarta_now())
    if sheet.file_errors:
        raise Failure(f"{file.name}: {sheet.file_errors[0].message}", code=1)

    async def work(conn: asyncpg.Connection) -> list[ResultLine]:
        ids, niks = lookup_keys(sheet.lines)
        planned = plan(sheet.lines, await agency_submissions(conn, code, ids, niks))
        shown = await _known(conn, code, sorted({p.shows for p in planned if p.shows}))
        return results(planned, shown, {}, sent=False)

    lines = asyncio.run(with_connection(settings, work))
    _print_outcomes(lines)
    xlsx, csv_path = write_results(file, lines)
    console.print(f"hasil (results): {xlsx} , {csv_path}", highlight=False)


def _status_nik(settings: Settings, agency: str, nik: str) -> None:
    from jamsos.adapters.submission_lookup import agency_submissions
    from jamsos.usecases.intake import outcome_detail
    from jamsos.workers.runtime import jakarta_now

    async def work(conn: asyncpg.Connection) -> list[Known]:
        return await agency_submissions(conn, agency, [], [nik])

    known = asyncio.run(with_connection(settings, work))
    if not known:
        console.print(f"{agency} has no submission for NIK {nik}", highlight=False)
        raise typer.Exit(1)
    table = Table("submission_id", "diterima (received)", "kode", "keterangan", title=f"NIK {nik}")
    for k in known:
        code, detail = outcome_detail(k)
        received = k.received_at.astimezone(jakarta_now().tzinfo).strftime("%d-%m-%Y %H:%M")
        table.add_row(k.submission_id, received, code, detail)
    console.print(table)
