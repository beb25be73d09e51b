"""What every `jamsos` command shares: the typer app and its groups, the console, and the
checks that a broker and database are configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import typer
from rich.console import Console

from jamsos.adapters import db
from jamsos.domain.period import Period
from jamsos.settings import Settings

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
        console.print(
            f"[red]{' and '.join(missing)} not set[/red]: start `jamsos up` and export"
            " the values it prints, or point them at your Kafka and PostgreSQL."
        )
        raise typer.Exit(2)
    return settings


def database_url(settings: Settings) -> str:
    if settings.database_url is None:
        console.print("[red]JAMSOS_DATABASE_URL is not set[/red] (see `jamsos up`).")
        raise typer.Exit(2)
    return settings.database_url


def period_arg(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


async def with_pool(settings: Settings, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    pool = await db.create_pool(database_url(settings), max_size=2)
    try:
        return await work(pool)
    finally:
        await pool.close()


async def with_connection(
    settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[T]]
) -> T:
    """Run `work` on one connection to the configured database."""
    conn = await asyncpg.connect(database_url(settings))
    try:
        return await work(conn)
    finally:
        await conn.close()
