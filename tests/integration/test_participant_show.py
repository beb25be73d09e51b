"""`jamsos participant show NIK`: one person's history from every agency, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.cli import app
from jamsos.domain.coverage import JAKARTA
from jamsos.settings import Settings, load_settings
from jamsos.usecases.registration import register
from jamsos.usecases.review import decide_reviews
from jamsos.usecases.termination import terminate
from jamsos_schemas import topics
from tests.factory import submission
from tests.integration.billing_support import JAN_20, bill, enrol, feed_ledger, record, termination
from tests.integration.test_review import LOOKALIKE, decide, review

pytestmark = pytest.mark.integration

NIK = "3319014506900001"  # the contract's example worker, Siti Aminah
MARCH = dt.datetime(2025, 3, 5, 9, 0, tzinfo=JAKARTA)


@pytest.fixture
def policy(tmp_path: Path) -> Settings:
    return load_settings(env={}, cwd=tmp_path)


async def show(database_url: str, tmp_path: Path, *args: str) -> Result:
    """`jamsos participant show ARGS` against the test's database."""
    env = {"JAMSOS_DATABASE_URL": database_url, "JAMSOS_CONFIG": str(tmp_path / "none.yaml")}
    return await asyncio.to_thread(CliRunner().invoke, app, ["participant", "show", *args], env=env)


async def history(database_url: str, tmp_path: Path, nik: str) -> dict[str, Any]:
    result = await show(database_url, tmp_path, nik, "--json")
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


async def test_participant_show_gathers_two_agencies_enrolment_termination_and_charges(
    pool: asyncpg.Pool, policy: Settings, database_url: str, tmp_path: Path
) -> None:
    await enrol(pool, policy, [submission()], JAN_20)  # DISDAG: enrolled, covered from Feb
    again = submission(agency_code="DISHUB", submission_id="DISHUB-77")
    await register(
        PostgresUnitOfWork(pool), [record(again, topics.SUBMITTED)], policy.policy, JAN_20
    )
    await feed_ledger(pool, JAN_20)
    await bill(pool, "2025-02")
    request = termination(NIK, "MOVED_OUT", "2025-03-10", agency="DINSOS", request_id="T-9")
    await terminate(
        PostgresUnitOfWork(pool),
        [record(request, topics.TERMINATION_REQUESTED)],
        policy.policy,
        MARCH,
    )
    await feed_ledger(pool, MARCH)

    data = await history(database_url, tmp_path, NIK)

    assert {"nik", "membership_no", "status", "submissions", "coverage", "charges"} <= set(data)
    membership_no = data["membership_no"]
    assert (data["nik"], data["status"]) == (NIK, "TERMINATED")
    assert membership_no is not None
    assert [(s["agency_code"], s["submission_id"], s["outcome"]) for s in data["submissions"]] == [
        ("DISDAG", "DISDAG-2025-000123", "enrolled"),
        ("DISHUB", "DISHUB-77", "duplicate"),
    ]
    enrolled, duplicate = data["submissions"]
    assert enrolled["membership_no"] == membership_no
    assert duplicate["existing_agency_code"] == "DISDAG"
    assert all(s["received_at"] and s["decided_at"] for s in data["submissions"])
    assert [
        (c["membership_no"], c["coverage_start"], c["coverage_end"]) for c in data["coverage"]
    ] == [(membership_no, "2025-02-01", "2025-03-31")]
    [ended] = data["terminations"]
    assert (ended["agency_code"], ended["participant_agency_code"], ended["reason"]) == (
        "DINSOS",
        "DISDAG",
        "MOVED_OUT",
    )
    assert [(c["period"], c["amount"], c["invoice_no"]) for c in data["charges"]] == [
        ("2025-02", 16_800, "JMS-PEMKAB-KUDUS-202502-01")
    ]


async def test_participant_show_names_who_decided_a_held_lookalike(
    pool: asyncpg.Pool, policy: Settings, database_url: str, tmp_path: Path
) -> None:
    await decide(pool, policy, [submission()])
    await decide(pool, policy, [LOOKALIKE])
    await decide_reviews(
        PostgresUnitOfWork(pool), [review("ENROL", by="Budi (ops)")], policy.policy, JAN_20
    )

    data = await history(database_url, tmp_path, LOOKALIKE["worker"]["nik"])

    [held] = data["submissions"]
    assert (held["agency_code"], held["outcome"], data["status"]) == (
        "DISHUB",
        "enrolled",
        "ACTIVE",
    )
    assert held["review"]["decision"] == "ENROL"
    assert held["review"]["decided_by"] == "Budi (ops)"
    assert held["review"]["candidates"][0]["nik"] == NIK


async def test_participant_show_human_output_lists_agencies_and_invoice(
    pool: asyncpg.Pool, policy: Settings, database_url: str, tmp_path: Path
) -> None:
    await enrol(pool, policy, [submission()], JAN_20)
    await feed_ledger(pool, JAN_20)
    await bill(pool, "2025-02")

    result = await show(database_url, tmp_path, NIK)

    assert result.exit_code == 0, result.output
    assert "DISDAG-2025-000123" in result.stdout
    assert "JMS-PEMKAB-KUDUS-202502-01" in result.stdout
    assert "Rp16.800" in result.stdout


async def jamsos(database_url: str, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """`jamsos ARGS` as a process (through `main`, which prints failures): code, out, err."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JAMSOS_")}
    env = {
        **clean,
        "JAMSOS_DATABASE_URL": database_url,
        "JAMSOS_CONFIG": str(tmp_path / "none.yaml"),
        "JAMSOS_STATE_DIR": str(tmp_path / "state"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jamsos", *args, env=env, cwd=tmp_path, stdout=PIPE, stderr=PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_participant_show_unknown_nik_says_so_in_one_line_and_exits_1(
    database_url: str, tmp_path: Path
) -> None:
    code, out, err = await jamsos(
        database_url, tmp_path, "participant", "show", "3319010101900009", "--json"
    )

    assert (code, out) == (1, "")
    assert err.splitlines() == ["error: no submission or participant with NIK 3319**********09"]


async def test_participant_show_malformed_nik_is_refused_before_any_lookup(tmp_path: Path) -> None:
    nowhere = "postgresql://nobody@127.0.0.1:1/none"

    code, out, err = await jamsos(nowhere, tmp_path, "participant", "show", "33190101019")

    assert (code, out) == (2, "")
    assert err.splitlines() == ["error: '33190101019' is not a NIK: a NIK is 16 digits"]
