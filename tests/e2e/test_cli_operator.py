"""Operator commands on real held submissions and dead letters: review list, ops dlq."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from jamsos.settings import load_settings
from tests.factory import submission
from tests.integration.test_review import LOOKALIKE, decide

pytestmark = pytest.mark.e2e


def jamsos(
    tmp_path: Path, database_url: str, *args: str, columns: int = 200
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}
    env = {
        **clean,
        "JAMSOS_DATABASE_URL": database_url,
        "JAMSOS_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": str(columns),
    }
    return subprocess.run(
        [sys.executable, "-m", "jamsos", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_review_list_shows_held_submissions_with_their_candidates(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(env={}, cwd=tmp_path)
    await decide(pool, settings, [submission()])
    await decide(pool, settings, [LOOKALIKE])
    membership = await pool.fetchval("SELECT membership_no FROM participants")

    result = jamsos(tmp_path, database_url, "review", "list")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    held = [line for line in result.stdout.splitlines() if "DISHUB-9" in line]
    assert len(held) == 1, result.stdout
    assert "3319014506900007" in held[0]  # the held NIK
    assert f"{membership} 3319014506900001" in held[0]  # the participant it looks like
    assert "1.00" in held[0]  # its score
