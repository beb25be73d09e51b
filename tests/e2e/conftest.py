"""End-to-end fixtures: the `jamsos` CLI as a subprocess against a fresh broker and database."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from jamsos.adapters.embedded import embedded_broker
from jamsos.adapters.kafka import wait_for_broker
from jamsos.bootstrap import with_database
from tests.conftest import clean_env

# Every e2e test drives `jamsos` as processes, and each process spends about 1.5 s of CPU on
# imports before it does anything: on 2 cores shared by 4 workers, or by other runs on the
# machine, a test of a dozen commands takes minutes (test_cli_billing measured 173 s, against
# 25 s on a quiet machine). So their budget is E2E_TIMEOUT, not pyproject's 180 s; a test's own
# timeout mark wins, and a wait inside a test keeps a deadline of its own below it.
E2E_TIMEOUT = 360


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT))


@dataclass
class Cli:
    """Runs `jamsos …` with this test's environment; keeps background services to stop them."""

    env: dict[str, str]
    cwd: Path
    services: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "jamsos", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"jamsos {' '.join(args)} exited {result.returncode}\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.cwd / f"service-{len(self.services)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "jamsos", *args],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.services.append(proc)
        return proc


@pytest.fixture
async def empty_database(pg_admin_dsn: str) -> AsyncIterator[str]:
    """A fresh database with no tables (the CLI migrates it)."""
    name = f"jamsos_e2e_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(pg_admin_dsn, name)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def bare_broker(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh tansu broker with no topics."""
    with embedded_broker(tmp_path / "tansu") as bootstrap:
        await wait_for_broker(bootstrap)
        yield bootstrap


@pytest.fixture
def cli(empty_database: str, bare_broker: str, tmp_path: Path) -> Iterator[Cli]:
    env = clean_env(
        JAMSOS_KAFKA_BOOTSTRAP=bare_broker,
        JAMSOS_DATABASE_URL=empty_database,
        JAMSOS_STATE_DIR=str(tmp_path / "state"),
        JAMSOS_GROUP_PREFIX=f"e2e-{uuid.uuid4().hex[:6]}",
        JAMSOS_PARTITIONS="3",
    )
    runner = Cli(env, tmp_path)
    yield runner
    for proc in runner.services:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
