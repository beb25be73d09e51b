"""HTTP plumbing: a uvicorn server on a socket we bind ourselves, and a small JSON GET client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import uvicorn
from starlette.types import ASGIApp


class PortUnavailable(Exception):
    """The HTTP port cannot be bound (in use, or not allowed)."""

    def __init__(self, port: int, reason: str) -> None:
        super().__init__(f"port {port}: {reason}")
        self.port = port
        self.reason = reason


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port); port 0 lets the OS choose a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Rebinding a port left in TIME_WAIT by our previous run is fine; one that another
    # process listens on still fails.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise PortUnavailable(port, error.strerror or str(error)) from None
    return sock


class HttpServer:
    """Serves an ASGI app with uvicorn inside the running event loop, on a bound socket."""

    def __init__(self, app: ASGIApp, sock: socket.socket) -> None:
        self._sock = sock
        # log_config=None keeps the process's logging as it is (masked, our format).
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The port actually bound (the OS's choice when asked for 0)."""
        port: int = self._sock.getsockname()[1]
        return port

    async def start(self, timeout: float = 10.0) -> None:
        """Start serving; returns once the server accepts connections."""
        # Server.serve() would install its own SIGINT/SIGTERM handlers and re-raise the
        # signal on exit; the process (jamsos run/up) owns its signals, so run the inner loop.
        self._task = asyncio.create_task(self._server._serve([self._sock]), name="http")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("the HTTP server stopped while starting")
            if loop.time() > deadline:
                raise TimeoutError("the HTTP server did not start in time")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop accepting, finish open requests (2 s at most), close the socket."""
        if self._task is None:
            self._sock.close()
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._sock.close()


def _get_json(url: str, timeout: float) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:  # a 503 still carries the failing check
        try:
            body = json.loads(error.read() or b"null")
        except ValueError:
            body = None
        return error.code, body


async def get_json(url: str, timeout: float = 3.0) -> tuple[int, Any]:
    """GET `url`; its status and JSON body (None when not JSON). Connection errors raise
    OSError (urllib.error.URLError is one), a body that is not JSON ValueError."""
    return await asyncio.to_thread(_get_json, url, timeout)
