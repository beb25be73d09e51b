"""Operator commands on real held submissions and dead letters: review list, ops dlq."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from jamsos.adapters.embedded import free_port
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.settings import load_settings
from jamsos.usecases.registration import register
from tests.factory import submission
from tests.integration.test_review import LOOKALIKE, NOW, decide, record

pytestmark = pytest.mark.e2e


def jamsos(
    tmp_path: Path, database_url: str, *args: str, columns: int = 200, broker: bool = False
) -> subprocess.CompletedProcess[str]:
    """The CLI on this database; `broker`: a configured (but unused, unreachable) broker."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}
    env = {
        **clean,
        "JAMSOS_DATABASE_URL": database_url,
        "JAMSOS_STATE_DIR": str(tmp_path / "state"),
        "COLUMNS": str(columns),
    }
    if broker:
        env["JAMSOS_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{free_port()}"
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


@pytest.fixture
async def letters(pool: asyncpg.Pool, tmp_path: Path) -> dict[str, str]:
    """Two dead letters from the registration service: a reused submission id, and bytes that
    are not JSON. Returns their event ids by error code."""
    settings = load_settings(env={}, cwd=tmp_path)
    await decide(pool, settings, [submission()])
    reused = submission(worker__phone="+6280000000000")  # same id, other content
    await register(
        PostgresUnitOfWork(pool), [record(reused), record(b"\x00 not json")], settings.policy, NOW
    )
    rows = await pool.fetch("SELECT event_id::text AS id, error FROM dead_letters")
    return {r["error"].split(":")[0]: r["id"] for r in rows}


async def test_dlq_list_fits_80_columns_with_full_id_agency_submission_and_error(
    letters: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    result = jamsos(tmp_path, database_url, "ops", "dlq", "list", columns=80)

    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 80, result.stdout
    for event_id in letters.values():
        assert event_id in result.stdout
    assert "DISDAG" in result.stdout and "DISDAG-2025-000123" in result.stdout
    assert "SUBMISSION_ID_REUSED" in result.stdout and "UNREADABLE" in result.stdout


async def test_dlq_replay_of_a_reused_submission_id_says_why_it_would_fail_again(
    letters: dict[str, str], pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    prefix = letters["SUBMISSION_ID_REUSED"][:8]
    result = jamsos(tmp_path, database_url, "ops", "dlq", "replay", prefix, broker=True)

    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert "would be dead-lettered again" in line and "DISDAG/DISDAG-2025-000123" in line
    assert "status ENROLLED" in line and "jamsos ops dlq discard" in line
    replayed = await pool.fetchval(
        "SELECT count(*) FROM dead_letters WHERE replayed_at IS NOT NULL"
    )
    assert replayed == 0


async def test_dlq_discard_by_prefix_records_the_reason_and_closes_the_letter(
    letters: dict[str, str], pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    letter = letters["UNREADABLE"]
    result = jamsos(
        tmp_path, database_url, "ops", "dlq", "discard", letter[:6], "--reason", "test noise"
    )

    assert result.returncode == 0, result.stderr
    assert f"discarded {letter}" in result.stdout
    row = await pool.fetchrow(
        "SELECT discard_reason, discarded_at FROM dead_letters WHERE event_id = $1::uuid", letter
    )
    assert row["discard_reason"] == "test noise" and row["discarded_at"] is not None
    assert letter not in jamsos(tmp_path, database_url, "ops", "dlq", "list").stdout
    everything = jamsos(tmp_path, database_url, "ops", "dlq", "list", "--all").stdout
    assert letter in everything and "discarded: test noise" in everything
    again = jamsos(tmp_path, database_url, "ops", "dlq", "replay", letter, broker=True)
    assert again.returncode == 1 and "was discarded (test noise)" in again.stderr


async def test_dlq_id_prefix_matching_two_letters_is_refused_as_ambiguous(
    pool: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    for event_id in (
        "abcd1234-0000-4000-8000-000000000001",
        "abcd5678-0000-4000-8000-000000000002",
    ):
        await pool.execute(
            'INSERT INTO dead_letters (event_id, source_topic, partition, "offset", value,'
            " error, failed_at) VALUES ($1::uuid, 't', 0, 0, '\\x00', 'UNREADABLE: x', now())",
            event_id,
        )

    result = jamsos(tmp_path, database_url, "ops", "dlq", "discard", "ABCD", "--reason", "x")

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "matches several dead letters" in line and "abcd1234-0000" in line
    assert await pool.fetchval("SELECT count(*) FROM dead_letters WHERE discarded_at IS NULL") == 2
