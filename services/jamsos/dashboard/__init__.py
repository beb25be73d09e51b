"""The operations dashboard: one web page for programme managers and operators.

A Starlette app served by uvicorn: `GET /` is the page, `/static/…` its assets (Chart.js is
vendored as package data, so nothing is fetched from a CDN), `GET /api/summary` the document of
`jamsos report --json`, `GET /api/lag` the document of `jamsos ops lag --json` (503 when the
broker cannot be read), and `GET /api/kecamatan` the packaged list of Kudus's kecamatan.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from importlib import resources

import asyncpg
from aiokafka.errors import KafkaError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from jamsos.adapters.http import HttpServer, bind
from jamsos.adapters.kafka import client_security
from jamsos.adapters.kafka_admin import consumer_lag
from jamsos.bootstrap import consumer_groups
from jamsos.domain.wilayah import kecamatan
from jamsos.reporting import report_data, report_json
from jamsos.settings import Settings

HOST = "127.0.0.1"
LAG_TIMEOUT_S = 10.0  # a broker that does not answer makes the page say so, not hang


def dashboard_app(settings: Settings) -> Starlette:
    """The page, its assets and the read-only JSON endpoints."""
    page = resources.files("jamsos.dashboard").joinpath("static/index.html").read_text("utf-8")

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page)

    async def summary(request: Request) -> Response:
        try:
            data = await report_data(settings)
        except (OSError, asyncpg.PostgresError) as error:
            return _unavailable(f"database: {error}")
        return Response(report_json(data), media_type="application/json")

    groups = consumer_groups(settings)

    async def lag(request: Request) -> Response:
        assert settings.kafka_bootstrap is not None  # `jamsos dashboard` requires it
        try:
            rows = await asyncio.wait_for(
                consumer_lag(
                    settings.kafka_bootstrap,
                    groups,
                    prefix=settings.group_prefix,
                    security=client_security(settings.kafka_security),
                ),
                LAG_TIMEOUT_S,
            )
        except (KafkaError, OSError, TimeoutError) as error:
            return _unavailable(f"broker {settings.kafka_bootstrap}: {error!r}")
        document = [dataclasses.asdict(row) for row in rows]  # the shape of `ops lag --json`
        return Response(json.dumps(document), media_type="application/json")

    async def kecamatan_list(request: Request) -> Response:
        rows = [{"kecamatan_code": c, "kecamatan": n} for c, n in sorted(kecamatan().items())]
        return Response(json.dumps(rows), media_type="application/json")

    return Starlette(
        routes=[
            Route("/", index),
            Route("/api/summary", summary),
            Route("/api/lag", lag),
            Route("/api/kecamatan", kecamatan_list),
            Mount("/static", StaticFiles(packages=[("jamsos.dashboard", "static")])),
        ]
    )


def _unavailable(detail: str) -> Response:
    """503 with what could not be read (the page shows it and keeps the last figures)."""
    body = json.dumps({"error": detail})
    return Response(body, status_code=503, media_type="application/json")


class Dashboard:
    """The dashboard's listening socket, bound at once (a taken port is known before anything
    else starts), and the server that answers on it."""

    def __init__(self, port: int) -> None:
        self._socket = bind(HOST, port)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}/"

    async def serve(self, settings: Settings, stop: asyncio.Event) -> None:
        """Serve the dashboard of `settings`' database until `stop` is set."""
        server = HttpServer(dashboard_app(settings), self._socket)
        await server.start()
        try:
            await stop.wait()
        finally:
            await server.stop()

    def close(self) -> None:
        """Release the port."""
        self._socket.close()
