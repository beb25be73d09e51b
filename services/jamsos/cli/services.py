"""Running jamsos: up, run, topics create, db migrate, asyncapi."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from jamsos.cli.common import (
    app,
    configured,
    console,
    db_app,
    topics_app,
    with_connection,
    write_secret_files,
)
from jamsos.cli.dashboard import open_dashboard
from jamsos.cli.errors import Failure
from jamsos.settings import Settings, load_settings
from jamsos_schemas import topics

if TYPE_CHECKING:
    import asyncpg

    from jamsos.dashboard import Dashboard


async def _serve(
    settings: Settings, services: list[str], dashboard: Dashboard | None = None
) -> None:
    from jamsos import bootstrap
    from jamsos.adapters.http import PortUnavailable

    logging.getLogger("jamsos").setLevel(settings.log_level)  # INFO: a line per batch
    # An outage is logged once by jamsos.conditions; asyncpg's pool would add a traceback for
    # every connection it fails to reopen meanwhile.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    runtime = bootstrap.runtime(settings)
    # A broker that is down is waited for here (one line), rather than failing inside
    # FastStream's connect, which leaves an unclosed producer behind.
    await bootstrap.wait_for_broker_forever(runtime)
    app_, broker = bootstrap.build_app(
        settings, services, runtime, http_port=settings.http_port or None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pages: list[asyncio.Task[None]] = []
    try:
        try:
            await app_.start()
        except PortUnavailable as error:
            raise Failure(
                f"JAMSOS_HTTP_PORT={error.port} cannot be used ({error.reason}):"
                " choose a free port, or 0 to serve no /health and /metrics"
            ) from None
        if dashboard is not None:
            pages.append(asyncio.create_task(dashboard.serve(settings, stop)))
        await bootstrap.wait_assigned(broker)
        logging.getLogger("aiokafka").setLevel(logging.WARNING)  # see jamsos.cli.main
        bootstrap.freeze_startup_heap()
        console.print(
            f"[green]running[/green] {', '.join(services)}; Ctrl-C stops", highlight=False
        )
        await stop.wait()
    finally:
        stop.set()
        await asyncio.gather(*pages)
        await app_.stop()


@app.command()
def up(
    services: str = typer.Option("all", help="which services to run in this process"),
) -> None:
    """Start broker, database (embedded when JAMSOS_* are unset) and the services."""
    from jamsos import bootstrap

    settings = load_settings()
    with bootstrap.session(settings, "up") as ready:  # refuses a second `up` on this state
        dashboard = open_dashboard(ready)
        try:
            asyncio.run(bootstrap.prepare(ready))
            # plain lines (never wrapped) so that they can be pasted into another shell
            typer.echo(f"export JAMSOS_KAFKA_BOOTSTRAP={ready.kafka_bootstrap}")
            typer.echo(f"export JAMSOS_DATABASE_URL='{ready.database_url}'")
            typer.echo(f"dashboard {dashboard.url}")
            asyncio.run(_serve(ready, bootstrap.service_names(services), dashboard))
        finally:
            dashboard.close()


@app.command()
def run(
    service: str = typer.Argument(..., help="registration, verification, billing or all"),
) -> None:
    """Run one service against the configured broker and database."""
    from jamsos import bootstrap

    settings = configured(load_settings())
    try:
        names = bootstrap.service_names(service)
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error
    asyncio.run(_serve(settings, names))


@topics_app.command("create")
def topics_create(
    partitions: int = typer.Option(
        None, help="partitions per topic (default JAMSOS_PARTITIONS or 6)"
    ),
) -> None:
    """Create every contract and internal topic that does not exist yet (idempotent)."""
    from jamsos.adapters.kafka import client_security, create_topics, topic_configs, wait_for_broker

    settings = load_settings()
    if settings.kafka_bootstrap is None:
        console.print("[red]JAMSOS_KAFKA_BOOTSTRAP is not set[/red]")
        raise typer.Exit(2)
    bootstrap_server = settings.kafka_bootstrap
    security = client_security(settings.kafka_security)

    async def go() -> list[str]:
        await wait_for_broker(bootstrap_server, security=security)
        return await create_topics(
            bootstrap_server,
            topics.ALL_TOPICS,
            partitions or settings.partitions,
            settings.replication_factor,
            security=security,
            configs=topic_configs(settings),
        )

    created = asyncio.run(go())
    for topic in topics.ALL_TOPICS:
        console.print(f"{'created' if topic in created else 'exists '}  {topic}", highlight=False)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending SQL migrations (safe to re-run) and sync the agency registry."""
    from jamsos.adapters import db

    settings = load_settings()

    async def go(conn: asyncpg.Connection) -> list[str]:
        applied = await db.migrate(conn)
        await db.sync_agencies(conn, settings.policy.agencies)
        return applied

    applied = asyncio.run(with_connection(settings, go))
    console.print(f"applied: {', '.join(applied) if applied else 'nothing (up to date)'}")


@db_app.command("secrets")
def db_secrets(
    out: Path = typer.Option(Path("secrets"), "--out", file_okay=False, help="secrets directory"),
) -> None:
    """Write a random password (mode 0600) for the database owner and each role's login
    (postgres_password_owner, postgres_password_ROLE) that has none in OUT yet; existing files
    are kept (docker-compose.yml, README "Database roles")."""
    from jamsos.adapters import db

    logins = ("owner", *db.ROLES)
    write_secret_files(out, {f"postgres_password_{login}": "" for login in logins})


@app.command()
def asyncapi(out: Path = typer.Option(Path("schemas/asyncapi.yaml"))) -> None:
    """Write the AsyncAPI document generated from the services' FastStream app."""
    from jamsos.docs import asyncapi_yaml

    try:
        out.write_text(asyncapi_yaml(), "utf-8")
    except OSError as error:
        raise Failure(f"--out {out}: cannot write it ({error.strerror or error})") from None
    console.print(f"wrote {out}")
