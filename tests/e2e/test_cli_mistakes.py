"""Everyday mistakes through the CLI: each is one line saying what is wrong and what to do, on
stderr, with a non-zero exit code, and never a traceback (jamsos.cli.errors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from jamsos.domain.period import Period
from jamsos.settings import ENDPOINTS_FILE
from jamsos.workers.runtime import jakarta_now
from tests.conftest import wait_until

pytestmark = pytest.mark.e2e


@dataclass
class Place:
    """Where a case runs: the test's directory, a state dir, and databases it may use."""

    tmp_path: Path
    migrated: str  # a migrated database
    empty: str  # a database with no tables
    refused: Callable[[], int]  # a port where nothing listens (conftest.refused_port)
    dead_broker: str = field(init=False)

    def __post_init__(self) -> None:
        self.dead_broker = f"127.0.0.1:{self.refused()}"

    @property
    def state(self) -> Path:
        return self.tmp_path / "state"

    def stale_record(self, by: str = "up") -> dict[str, str]:
        """An endpoints record of a `jamsos up` that has stopped; returns what it recorded."""
        gone = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        self.state.mkdir(parents=True, exist_ok=True)
        recorded = {
            "JAMSOS_KAFKA_BOOTSTRAP": self.dead_broker,
            "JAMSOS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{self.refused()}/postgres",
        }
        (self.state / ENDPOINTS_FILE).write_text(
            json.dumps(
                {
                    "by": by,
                    "pid": int(gone.stdout),
                    "kafka_bootstrap": recorded["JAMSOS_KAFKA_BOOTSTRAP"],
                    "database_url": recorded["JAMSOS_DATABASE_URL"],
                    "database_embedded": False,
                    "recorded_at": "2026-12-01T10:00:00+07:00",
                }
            ),
            "utf-8",
        )
        return recorded


@dataclass(frozen=True)
class Mistake:
    """A command, its environment, and the one line it must print."""

    name: str
    args: Callable[[Place], list[str]]
    env: Callable[[Place], dict[str, str]]
    message: str
    code: int = 2


def _next_month() -> str:
    return str(Period.of(jakarta_now().date()).next())


MISTAKES = [
    Mistake(
        "database never migrated",
        lambda p: ["report"],
        lambda p: {"JAMSOS_DATABASE_URL": p.empty},
        "is not migrated (relation",
    ),
    Mistake(
        "wrong database name",
        lambda p: ["invoice", "list"],
        lambda p: {"JAMSOS_DATABASE_URL": p.migrated.rsplit("/", 1)[0] + "/no_such_db"},
        'database "no_such_db" does not exist on 127.0.0.1',
    ),
    Mistake(
        "wrong database port",
        lambda p: ["report", "--json"],
        lambda p: {"JAMSOS_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{p.refused()}/x"},
        "cannot connect to PostgreSQL at 127.0.0.1:",
    ),
    Mistake(
        "broker down when publishing",
        lambda p: ["bill", _next_month()],
        lambda p: {"JAMSOS_DATABASE_URL": p.migrated, "JAMSOS_KAFKA_BOOTSTRAP": p.dead_broker},
        "cannot reach the Kafka broker at 127.0.0.1:",
    ),
    Mistake(
        "broker down when reading consumer lag",
        lambda p: ["ops", "lag", "--json"],
        lambda p: {"JAMSOS_DATABASE_URL": p.migrated, "JAMSOS_KAFKA_BOOTSTRAP": p.dead_broker},
        "cannot reach the Kafka broker at 127.0.0.1:",
    ),
    # A broker down when a service starts is waited for, not a mistake (issue 10; see
    # tests/integration/test_outages.py).
    Mistake(
        "stale exports after jamsos up stopped",
        lambda p: ["report"],
        lambda p: p.stale_record(),
        "point at the embedded database of `jamsos up` (pid",
    ),
    Mistake(
        "nothing exported after jamsos up stopped",
        lambda p: ["bill", _next_month()],
        lambda p: (p.stale_record(), {})[1],
        "has stopped (its broker with it): start `jamsos up`",
    ),
    Mistake(
        "nothing configured, nothing running",
        lambda p: ["reconcile"],
        lambda p: {},
        "JAMSOS_DATABASE_URL not set and no `jamsos up` runs on state directory",
    ),
    Mistake(
        "bad dead-letter id",
        lambda p: ["ops", "dlq", "replay", "3f2a-xyz"],
        lambda p: {"JAMSOS_DATABASE_URL": p.migrated, "JAMSOS_KAFKA_BOOTSTRAP": p.dead_broker},
        "'3f2a-xyz' is not a dead-letter id: give its event_id or its first characters",
    ),
    Mistake(
        "misspelt key in jamsos.yaml",
        lambda p: ["report"],
        lambda p: (
            (p.tmp_path / "jamsos.yaml").write_text("documnets:\n  issuer: {city: Kudus}\n"),
            {"JAMSOS_DATABASE_URL": p.migrated},
        )[1],
        "jamsos.yaml: 'documnets' is not a setting here (did you mean 'documents'?)",
    ),
    Mistake(
        "bad period",
        lambda p: ["bill", "2026-13"],
        lambda p: {"JAMSOS_DATABASE_URL": p.migrated, "JAMSOS_KAFKA_BOOTSTRAP": p.dead_broker},
        "write the month as YYYY-MM",
    ),
]


def jamsos(place: Place, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}
    return subprocess.run(
        [sys.executable, "-m", "jamsos", *args],
        env={
            **clean,
            "JAMSOS_STATE_DIR": str(place.state),
            "JAMSOS_HTTP_PORT": "0",
            "COLUMNS": "200",
            **env,
        },
        cwd=place.tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def place(
    tmp_path: Path, database_url: str, empty_database: str, refused_port: Callable[[], int]
) -> Place:
    return Place(tmp_path, database_url, empty_database, refused_port)


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.name for m in MISTAKES])
def test_everyday_mistake_prints_one_line_and_exits_non_zero(
    place: Place, mistake: Mistake
) -> None:
    result = jamsos(place, mistake.args(place), mistake.env(place))
    assert result.returncode == mistake.code, result.stderr
    assert "Traceback" not in result.stderr and "Unclosed" not in result.stderr, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and mistake.message in line, line
    assert result.stdout == ""


def test_version_prints_the_package_version(place: Place) -> None:
    result = jamsos(place, ["--version"], {})
    assert result.returncode == 0 and result.stdout.startswith("jamsos 0."), result


@pytest.fixture
def run_on_empty(place: Place, bare_broker: str) -> Iterator[subprocess.Popen[bytes]]:
    """`jamsos run registration` on a database with no tables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}
    env = {
        **clean,
        "JAMSOS_DATABASE_URL": place.empty,
        "JAMSOS_KAFKA_BOOTSTRAP": bare_broker,
        "JAMSOS_STATE_DIR": str(place.state),
        "JAMSOS_HTTP_PORT": "0",  # never the default 9400: tests run side by side
    }
    with (place.tmp_path / "run.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jamsos", "run", "registration"],
            env=env,
            cwd=place.tmp_path,  # no developer's ./jamsos.yaml
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        yield proc
        proc.terminate()
        proc.wait(timeout=30)


async def test_run_on_a_database_never_migrated_migrates_it_on_start(
    place: Place, run_on_empty: subprocess.Popen[bytes]
) -> None:
    async def migrated() -> bool:
        assert run_on_empty.poll() is None, (place.tmp_path / "run.log").read_text()
        conn = await asyncpg.connect(place.empty)
        try:
            return bool(await conn.fetchval("SELECT to_regclass('agencies') IS NOT NULL"))
        finally:
            await conn.close()

    await wait_until(migrated, timeout=60, what="jamsos run to migrate the database")
