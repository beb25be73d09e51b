"""Everyday mistakes as one line: what is wrong and what to do, never a traceback.

Commands raise `Failure` for mistakes they recognise themselves (a bad id, a bad date, a
refused payment). `main()` hands every other exception to `explain`, which knows the failures
of the environment (database unreachable, missing or not migrated; broker unreachable; the
endpoints of a `jamsos up` that has stopped). Anything unknown is a bug and keeps its
traceback.

The exception types of the libraries are imported only when an error is not a `Failure`
(jamsos.cli: a command loads what it runs on, and so does its error).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from jamsos.adapters import logs
from jamsos.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from jamsos.adapters.embedded import StateInUse

USAGE = 2  # the exit code of every failure below unless it says otherwise


class Failure(Exception):
    """A mistake the user can fix: `message` says what is wrong and what to do."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def print_failure(failure: Failure) -> None:
    """The one line, on stderr (stdout stays clean for --json), masked like a log line: an
    error line may be pasted into a ticket or a chat, the NIK it names is not needed there."""
    sys.stderr.write(f"error: {logs.mask(failure.message)}\n")


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what it was raised from, and the members of exception groups."""
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _raised_in(error: BaseException, package: str) -> bool:
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(package):
            return True
        tb = tb.tb_next
    return False


def database_place(dsn: str | None) -> tuple[str, str]:
    """(server, database name) of a DSN, without its password."""
    if not dsn:
        return "?", "?"
    parts = urlsplit(dsn)
    host = parts.hostname or parse_qs(parts.query).get("host", ["local socket"])[0]
    server = f"{host}:{parts.port}" if parts.port else host
    return server, parts.path.lstrip("/") or "postgres"


def _settings() -> Settings | None:
    try:
        return load_settings()
    except Exception:
        return None


def _stale(settings: Settings | None, what: str) -> str | None:
    """The stale-record message when `what` ("database"/"broker") points at a stopped `up`."""
    if settings is None or settings.recorded is None or settings.recorded.live:
        return None
    record = settings.recorded
    same = (
        record.database_url == settings.database_url
        if what == "database"
        else record.kafka_bootstrap == settings.kafka_bootstrap
    )
    if not same:
        return None
    return (
        f"JAMSOS_* point at the embedded {what} of `jamsos {record.by}` (pid {record.pid}),"
        " which has stopped: start `jamsos up` again, or `unset JAMSOS_KAFKA_BOOTSTRAP"
        " JAMSOS_DATABASE_URL` (commands then find a running `jamsos up` themselves)"
    )


def _database(error: BaseException, settings: Settings | None) -> Failure | None:
    import asyncpg

    dsn = settings.database_url if settings else None
    server, name = database_place(dsn)
    if isinstance(error, asyncpg.UndefinedTableError):
        return Failure(
            f"database {name!r} on {server} is not migrated ({error}):"
            " run `jamsos db migrate` (`jamsos run` and `jamsos up` migrate on start)"
        )
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        return Failure(
            f"PostgreSQL refused it on {server}: {error}. This login's role does not allow this"
            " command (README, \"Database roles\"): use the operator's or the owner's"
            " JAMSOS_DATABASE_URL"
        )
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return Failure(
            f"{error} on {server}: check the database name in JAMSOS_DATABASE_URL"
            " (or create it and run `jamsos db migrate`)"
        )
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return Failure(
            f"PostgreSQL at {server} refused the login ({error}): check the user and password"
            " in JAMSOS_DATABASE_URL"
        )
    if isinstance(error, OSError | TimeoutError | socket.gaierror) and _raised_in(error, "asyncpg"):
        stale = _stale(settings, "database")
        if stale:
            return Failure(stale)
        reason = "timed out"
        if isinstance(error, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(error, OSError) and error.strerror:
            reason = error.strerror
        return Failure(
            f"cannot connect to PostgreSQL at {server} ({reason.lower()}): is it running?"
            " Check JAMSOS_DATABASE_URL, or start `jamsos up`"
        )
    return None


def _broker(error: BaseException, settings: Settings | None) -> Failure | None:
    from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

    if not isinstance(error, KafkaConnectionError | KafkaTimeoutError):
        return None
    stale = _stale(settings, "broker")
    if stale:
        return Failure(stale)
    where = settings.kafka_bootstrap if settings else "?"
    return Failure(
        f"cannot reach the Kafka broker at {where}: is it running?"
        " Check JAMSOS_KAFKA_BOOTSTRAP, or start `jamsos up`"
    )


def _state_in_use(error: StateInUse, settings: Settings | None) -> Failure:
    record = settings.recorded if settings else None
    who = f"`jamsos {record.by}` (pid {record.pid})" if record and record.live else "jamsos"
    return Failure(
        f"{who} already runs on state directory {error}: use it (other commands find it by"
        " themselves), stop it first, or set JAMSOS_STATE_DIR to another directory"
    )


def explain(error: BaseException) -> Failure | None:
    """The one-line failure behind `error`, or None when it is not an everyday mistake."""
    if isinstance(error, Failure):  # a command's own: nothing to import
        return error
    from jamsos.adapters.db import AgenciesDiffer, NotMigrated
    from jamsos.adapters.embedded import StateInUse
    from jamsos.domain.signatures import BadKey

    settings: Settings | None = None
    loaded = False
    for current in _chain(error):
        if isinstance(current, Failure):
            return current
        if isinstance(current, BadKey | ConfigError | NotMigrated | AgenciesDiffer):
            return Failure(str(current))
        if not loaded:
            settings, loaded = _settings(), True
        if isinstance(current, StateInUse):
            return _state_in_use(current, settings)
        found = _database(current, settings) or _broker(current, settings)
        if found:
            return found
    return None
