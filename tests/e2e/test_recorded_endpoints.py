"""The embedded default serves every command: `jamsos up` and `jamsos demo` record their
endpoints in the state directory, other commands find them without exported variables, a second
`up` on the same state refuses, and a stopped one is reported as such."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jamsos.domain.period import Period
from jamsos.workers.runtime import jakarta_now
from tests.conftest import clean_env, wait_until

pytestmark = pytest.mark.e2e


def jamsos(
    tmp_path: Path, state: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """No JAMSOS_* endpoint exported (clean_env); a private state dir; no fixed ports."""
    return subprocess.run(
        [sys.executable, "-m", "jamsos", *args],
        env=clean_env(JAMSOS_STATE_DIR=str(state)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def up(tmp_path: Path, embedded_state_dir: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    log = tmp_path / "up.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jamsos", "up"],
            env=clean_env(JAMSOS_STATE_DIR=str(embedded_state_dir)),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    yield proc, log
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_commands_find_a_running_up_and_report_it_once_stopped(
    up: tuple[subprocess.Popen[str], Path], tmp_path: Path, embedded_state_dir: Path
) -> None:
    proc, log = up

    async def started() -> bool:
        assert proc.poll() is None, log.read_text()
        return "Ctrl-C stops" in log.read_text()

    await wait_until(started, timeout=180, what="jamsos up to start")

    live = jamsos(tmp_path, embedded_state_dir, "report", "--json")
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout)["submissions"] == 0  # stdout is the JSON document only
    assert f"using those of `jamsos up` (pid {proc.pid})" in live.stderr

    second = jamsos(tmp_path, embedded_state_dir, "up")
    assert second.returncode == 2, second.stderr
    assert f"`jamsos up` (pid {proc.pid}) already runs on state directory" in second.stderr
    assert "Traceback" not in second.stderr
    assert proc.poll() is None  # the first one is untouched

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()

    stopped = jamsos(tmp_path, embedded_state_dir, "invoice", "list", "--json")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(stopped.stdout) == []
    assert f"`jamsos up` (pid {proc.pid}) has stopped; reading its embedded database" in (
        stopped.stderr
    )
    no_broker = jamsos(tmp_path, embedded_state_dir, "bill", str(Period.of(jakarta_now().date())))
    assert no_broker.returncode == 2
    [line] = no_broker.stderr.splitlines()
    assert "has stopped (its broker with it): start `jamsos up`" in line


def test_report_after_the_demo_shows_the_demos_data(
    tmp_path: Path, embedded_state_dir: Path
) -> None:
    demo = jamsos(tmp_path, embedded_state_dir, "demo", "--workers", "20", timeout=300)
    assert demo.returncode == 0, demo.stdout + demo.stderr

    after = jamsos(tmp_path, embedded_state_dir, "report", "--json")

    assert after.returncode == 0, after.stderr
    data = json.loads(after.stdout)
    assert data["outcomes"]["ENROLLED"] > 20 and data["billing"]["periods"]
    assert "reading its embedded database 'jamsos_demo'" in after.stderr
