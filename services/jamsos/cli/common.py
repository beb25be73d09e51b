"""What every `jamsos` command shares: the typer app and its groups, the console, and the
checks that a broker and database are configured."""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console

from jamsos.cli.errors import Failure
from jamsos.domain.period import Period
from jamsos.settings import ENDPOINTS_FILE, Settings, load_settings

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="jamsos: enrolment and premium billing of Kudus's informal workers (BPJS TK).",
    pretty_exceptions_enable=False,
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

invoice_app = typer.Typer(no_args_is_help=True, help="Invoices (tagihan) issued to the payers.")
app.add_typer(invoice_app, name="invoice")
participant_app = typer.Typer(no_args_is_help=True, help="One person's history (peserta).")
app.add_typer(participant_app, name="participant")


def note(text: str) -> None:
    """A remark about where the command's endpoints come from: stderr, so --json stays clean."""
    sys.stderr.write(f"note: {text}\n")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"jamsos {version('jamsos')}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    _: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """jamsos: enrolment and premium billing of Kudus's informal workers (BPJS TK)."""
    if ctx.invoked_subcommand in ("up", "demo", "bench"):
        return
    settings = load_settings()
    if settings.from_record and settings.recorded is not None:
        note(
            f"{' and '.join(settings.from_record)} unset: using those of `jamsos"
            f" {settings.recorded.by}` (pid {settings.recorded.pid}) recorded in"
            f" {settings.state_dir / ENDPOINTS_FILE}"
        )


def configured(settings: Settings) -> Settings:
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
        raise _not_set(settings, missing)
    return settings


_WHAT = {"JAMSOS_KAFKA_BOOTSTRAP": "Kafka", "JAMSOS_DATABASE_URL": "PostgreSQL"}


def _not_set(settings: Settings, missing: list[str]) -> Failure:
    record = settings.recorded
    if record is not None and not record.live:
        return Failure(
            f"{' and '.join(missing)} unset and `jamsos {record.by}` (pid {record.pid}), whose"
            f" endpoints {settings.state_dir / ENDPOINTS_FILE} records, has stopped"
            " (its broker with it): start `jamsos up`, or export the variables"
        )
    return Failure(
        f"{' and '.join(missing)} not set and no `jamsos up` runs on state directory"
        f" {settings.state_dir}: start `jamsos up` (other commands then find it), or export"
        f" {'it' if len(missing) == 1 else 'them'} to point at your"
        f" {' and '.join(_WHAT[m] for m in missing)}"
    )


_embedded = contextlib.ExitStack()
atexit.register(_embedded.close)
_started: dict[Path, str] = {}  # state dir -> DSN of the embedded server this process started


def database_url(settings: Settings) -> str:
    """The database to use: the configured one, else the embedded PostgreSQL of a stopped
    `jamsos up`/`demo` on this state directory (started for this command; its data is kept)."""
    if settings.database_url is not None:
        return settings.database_url
    record = settings.recorded
    if record is None or record.live or not record.database_embedded:
        raise _not_set(settings, ["JAMSOS_DATABASE_URL"])
    if settings.state_dir not in _started:
        from jamsos.adapters.embedded import embedded_database
        from jamsos.bootstrap import with_database

        name = urlsplit(record.database_url).path.lstrip("/") or "postgres"
        server = _embedded.enter_context(embedded_database(settings.state_dir))
        _started[settings.state_dir] = with_database(server, name)
        note(
            f"JAMSOS_DATABASE_URL unset: `jamsos {record.by}` (pid {record.pid}) has stopped;"
            f" reading its embedded database {name!r} under {settings.state_dir / 'pg'}"
        )
    return _started[settings.state_dir]


def date_arg(text: str, what: str = "date") -> dt.date:
    """A date as clerks type it: YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY."""
    for fmt in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise Failure(f"{what} {text!r} is not a date: write YYYY-MM-DD, DD-MM-YYYY or DD/MM/YYYY")


def period_arg(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as error:
        raise Failure(f"{error}: write the month as YYYY-MM") from error


async def with_pool(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    from jamsos.adapters import db

    pool = await db.create_pool(database_url(settings), max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


async def with_connection(
    settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """Run `work` on one connection to the configured database."""
    from jamsos.adapters import db

    conn = await db.connect(database_url(settings))
    try:
        return await work(conn)
    finally:
        await conn.close()


def write_secret_files(out: Path, names: dict[str, str]) -> None:
    """Write a random password (mode 0600) to OUT/name for each name that has no file there
    yet (existing files are kept), printing `wrote PATH  (label)`; one error line if OUT is
    unusable."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, label in names.items():
            path = out / name
            if path.exists():
                continue
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as file:
                file.write(secrets.token_hex(24) + "\n")
            console.print(f"wrote {path}" + (f"  ({label})" if label else ""), highlight=False)
    except OSError as error:
        raise Failure(f"--out {out}: {error}") from None
