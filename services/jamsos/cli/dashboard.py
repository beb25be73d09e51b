"""`jamsos dashboard`: the operations web page on JAMSOS_DASHBOARD_PORT."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import typer

from jamsos.cli.common import app, configured
from jamsos.cli.errors import Failure
from jamsos.settings import Settings, load_settings

if TYPE_CHECKING:
    from jamsos.dashboard import Dashboard


def open_dashboard(settings: Settings) -> Dashboard:
    """The dashboard bound to its port; a taken port ends the command with one clear line."""
    from jamsos.adapters.http import PortUnavailable
    from jamsos.dashboard import Dashboard

    try:
        return Dashboard(settings.dashboard_port)
    except PortUnavailable as error:
        raise Failure(
            f"dashboard port {error.port} cannot be used ({error.reason}): set"
            " JAMSOS_DASHBOARD_PORT to a free port (0: any free port)"
        ) from None


async def _serve(dashboard: Dashboard, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await dashboard.serve(settings, stop)


@app.command()
def dashboard() -> None:
    """Serve the dashboard (progress, outcomes, billing, pipeline) until Ctrl-C."""
    settings = configured(load_settings())
    page = open_dashboard(settings)
    try:
        typer.echo(f"dashboard {page.url} (Ctrl-C stops)")
        asyncio.run(_serve(page, settings))
    finally:
        page.close()
