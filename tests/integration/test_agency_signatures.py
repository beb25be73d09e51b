"""Agency signatures (CONTRACT.md, "Agency signatures (v1)") on the real broker and PostgreSQL:
with signatures required, what is unsigned, wrongly signed or signed by another agency goes to
the DLQ as UNAUTHENTICATED and changes nothing; the real agency's message is then processed."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jamsos.adapters.signatures import Signer, generate, load_private_key
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.signatures import AGENCY_HEADER, SIGNATURE_HEADER
from jamsos.publishing import HeadersOf, publish_raw
from jamsos.settings import Settings, load_settings
from jamsos.usecases.registration import register
from jamsos_schemas import topics
from tests.conftest import running, wait_until
from tests.integration.billing_support import JAN_20, cli_process, record, termination, workers

pytestmark = pytest.mark.integration


def agency_keys(tmp_path: Path, *codes: str) -> tuple[Path, dict[str, Signer]]:
    """Key pairs of `codes`, made as `jamsos keys generate` does; returns jamsos's keys
    directory (the public halves only) and each agency's signer."""
    private, public = tmp_path / "agencies", tmp_path / "agency-keys"
    public.mkdir(exist_ok=True)
    signers = {}
    for code in codes:
        key_file, pub = generate(code, private)
        shutil.copy(pub, public / pub.name)
        signers[code] = Signer(code, load_private_key(key_file))
    return public, signers


def with_keys(settings: Settings, keys_dir: Path, *, required: bool = True) -> Settings:
    """`settings` with the policy read from JAMSOS_AGENCY_KEYS_DIR and
    JAMSOS_REQUIRE_SIGNATURES, as a service reads them."""
    env = {
        "JAMSOS_AGENCY_KEYS_DIR": str(keys_dir),
        "JAMSOS_REQUIRE_SIGNATURES": "true" if required else "false",
    }
    return dataclasses.replace(settings, policy=load_settings(env, settings.state_dir).policy)


def signed_as(agency: str, by: Signer) -> HeadersOf:
    """Headers naming `agency` with a signature made by `by` (another agency's key: forged)."""
    return lambda value: [
        (AGENCY_HEADER, agency.encode()),
        (SIGNATURE_HEADER, dict(by.headers(value))[SIGNATURE_HEADER]),
    ]


def over_other_bytes(by: Signer) -> HeadersOf:
    """The agency's real key, but a signature over other bytes (the value was altered)."""
    return lambda value: by.headers(value + b" ")


async def send(
    settings: Settings, topic: str, payload: dict[str, Any], headers: HeadersOf | None
) -> None:
    key = payload["worker"]["nik"] if "worker" in payload else payload["nik"]
    value = json.dumps(payload).encode()
    await publish_raw(settings, topic, [(key.encode(), value)], headers=headers)


async def letters(pool: asyncpg.Pool, topic: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT event_id::text, error, value, headers FROM dead_letters"
        " WHERE source_topic = $1 ORDER BY failed_at, event_id",
        topic,
    )
    return [dict(r) for r in rows]


def count_letters(pool: asyncpg.Pool, topic: str, n: int) -> Callable[[], Any]:
    async def check() -> bool:
        return len(await letters(pool, topic)) >= n

    return check


async def outbox_topics(pool: asyncpg.Pool) -> list[str]:
    return [r["topic"] for r in await pool.fetch("SELECT topic FROM outbox ORDER BY id")]


async def test_unsigned_forged_or_misattributed_submissions_are_unauthenticated_and_the_real_agency_enrols_after(  # noqa: E501
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keys_dir, signers = agency_keys(tmp_path, "DISDAG", "DISHUB")
    disdag, dishub = signers["DISDAG"], signers["DISHUB"]
    settings = with_keys(settings, keys_dir)
    unsigned, wrong_key, dishub_as_disdag, altered = workers({"DISDAG": 4}, JAN_20)
    async with running(settings, ["registration", "verification"]):
        await send(settings, topics.SUBMITTED, unsigned, None)
        await send(settings, topics.SUBMITTED, wrong_key, signed_as("DISDAG", dishub))
        # DISHUB signs correctly as itself, but the submission says DISDAG: it cannot enrol
        # in DISDAG's name (and is not DISHUB's own submission either).
        await send(settings, topics.SUBMITTED, dishub_as_disdag, dishub.headers)
        await send(settings, topics.SUBMITTED, altered, over_other_bytes(disdag))
        await wait_until(count_letters(pool, topics.SUBMITTED, 4), what="four dead letters")
        dead = await letters(pool, topics.SUBMITTED)
        assert {d["error"].split(":")[0] for d in dead} == {"UNAUTHENTICATED"}
        assert sorted(json.loads(bytes(d["value"]))["submission_id"] for d in dead) == sorted(
            p["submission_id"] for p in (unsigned, wrong_key, dishub_as_disdag, altered)
        )
        # nothing changed: no submission row (the ids stay free), no claim, no outcome
        assert await pool.fetchval("SELECT count(*) FROM submissions") == 0
        assert await pool.fetchval("SELECT count(*) FROM nik_claims") == 0
        assert set(await outbox_topics(pool)) == {topics.DLQ}

        # The real DISDAG sends the same submission ids: each is enrolled.
        for payload in (unsigned, wrong_key, dishub_as_disdag, altered):
            await send(settings, topics.SUBMITTED, payload, disdag.headers)

        async def all_enrolled() -> bool:
            return bool(
                await pool.fetchval("SELECT count(*) FROM participants WHERE status = 'ACTIVE'")
                == 4
            )

        await wait_until(all_enrolled, what="the real agency's submissions enrolled")
    rows = await pool.fetch("SELECT agency_code, status FROM submissions")
    assert sorted((r["agency_code"], r["status"]) for r in rows) == [("DISDAG", "ENROLLED")] * 4
    assert len(await letters(pool, topics.SUBMITTED)) == 4  # the resends are not dead letters


async def test_termination_under_another_agencys_code_is_unauthenticated_and_changes_nothing(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keys_dir, signers = agency_keys(tmp_path, "DISDAG", "DISHUB")
    disdag, dishub = signers["DISDAG"], signers["DISHUB"]
    settings = with_keys(settings, keys_dir)
    [payload] = workers({"DISDAG": 1}, JAN_20)
    nik = payload["worker"]["nik"]
    request = termination(nik, "WITHDRAWN", "2025-02-10", agency="DISDAG", request_id="T-1")
    async with running(settings, ["registration", "verification"]):
        await send(settings, topics.SUBMITTED, payload, disdag.headers)

        async def active() -> bool:
            status = await pool.fetchval("SELECT status FROM participants WHERE nik = $1", nik)
            return bool(status == "ACTIVE")

        await wait_until(active, what="the enrolment")
        await send(settings, topics.TERMINATION_REQUESTED, request, None)
        await send(settings, topics.TERMINATION_REQUESTED, request, dishub.headers)
        await send(settings, topics.TERMINATION_REQUESTED, request, signed_as("DISDAG", dishub))
        await wait_until(count_letters(pool, topics.TERMINATION_REQUESTED, 3), what="3 letters")
        dead = await letters(pool, topics.TERMINATION_REQUESTED)
        assert [d["error"].split(":")[0] for d in dead] == ["UNAUTHENTICATED"] * 3
        assert await active()
        assert await pool.fetchval("SELECT count(*) FROM termination_requests") == 0
        assert await pool.fetchval("SELECT count(*) FROM inbox WHERE message_id = 'T-1'") == 0
        assert topics.TERMINATED not in await outbox_topics(pool)

        # DISDAG itself asks, with the same request id: coverage ends.
        await send(settings, topics.TERMINATION_REQUESTED, request, disdag.headers)

        async def terminated() -> bool:
            status = await pool.fetchval("SELECT status FROM participants WHERE nik = $1", nik)
            return bool(status == "TERMINATED")

        await wait_until(terminated, what="the real agency's termination")
    row = await pool.fetchrow("SELECT agency_code, status FROM termination_requests")
    assert (row["agency_code"], row["status"]) == ("DISDAG", "TERMINATED")


async def test_dlq_replay_republishes_the_original_headers_so_only_signed_letters_pass(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keys_dir, signers = agency_keys(tmp_path, "DISDAG")
    pub = keys_dir / "DISDAG.pub"
    held_back = pub.rename(tmp_path / "DISDAG.pub")  # jamsos does not know DISDAG's key yet
    signed, unsigned = workers({"DISDAG": 2}, JAN_20)
    async with running(with_keys(settings, keys_dir), ["registration"]):
        await send(settings, topics.SUBMITTED, signed, signers["DISDAG"].headers)
        await send(settings, topics.SUBMITTED, unsigned, None)
        await wait_until(count_letters(pool, topics.SUBMITTED, 2), what="two dead letters")
    first = await letters(pool, topics.SUBMITTED)
    assert [d["error"].split(":")[0] for d in first] == ["UNAUTHENTICATED"] * 2
    held_back.rename(pub)  # the key is configured now
    settings = with_keys(settings, keys_dir)
    async with running(settings, ["registration", "verification"]):
        for letter in first:
            result = await cli_process(settings, "ops", "dlq", "replay", letter["event_id"])
            assert result.exit_code == 0, result.output

        async def signed_enrolled() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM submissions WHERE submission_id = $1", signed["submission_id"]
            )
            return bool(status == "ENROLLED")

        await wait_until(signed_enrolled, what="the replayed signed submission")
        await wait_until(count_letters(pool, topics.SUBMITTED, 3), what="the unsigned one again")
    again = (await letters(pool, topics.SUBMITTED))[2]
    assert json.loads(bytes(again["value"]))["submission_id"] == unsigned["submission_id"]
    assert again["error"].startswith("UNAUTHENTICATED: not signed")
    ids = [r["submission_id"] for r in await pool.fetch("SELECT submission_id FROM submissions")]
    assert ids == [signed["submission_id"]]
    # the signed letter kept its headers (base64 values), the unsigned one had none
    stored = {json.loads(bytes(d["value"]))["submission_id"]: d["headers"] for d in first}
    names = [name for name, _ in _pairs(stored[signed["submission_id"]])]
    assert names == [AGENCY_HEADER, SIGNATURE_HEADER]
    assert _pairs(stored[unsigned["submission_id"]]) == []


def _pairs(doc: Any) -> list[tuple[str, bytes]]:
    pairs = json.loads(doc) if isinstance(doc, str) else doc
    return [(name, base64.b64decode(value)) for name, value in pairs]


# The use case on real PostgreSQL (no broker): what a batch decides.

NOW = dt.datetime(2025, 1, 20, 10, 0, tzinfo=JAN_20.tzinfo)


def signed_records(payloads: Sequence[dict[str, Any]], signer: Signer | None) -> list[Any]:
    out = []
    for payload in payloads:
        rec = record(payload, topics.SUBMITTED)
        headers = () if signer is None else tuple(signer.headers(rec.value))
        out.append(rec._replace(headers=headers))
    return out


async def test_signatures_off_unsigned_submissions_are_accepted_as_before(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keys_dir, _ = agency_keys(tmp_path, "DISDAG")
    off = with_keys(settings, keys_dir, required=False)
    summary = await register(
        PostgresUnitOfWork(pool),
        signed_records(workers({"DISDAG": 2}, JAN_20), None),
        off.policy,
        NOW,
    )
    assert (summary.counts.get("ACCEPTED"), sum(summary.dead_letters.values())) == (2, 0)


async def test_rotated_keys_both_verify(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keys_dir, signers = agency_keys(tmp_path, "DISDAG")
    new_key, new_pub = generate("DISDAG", tmp_path / "rotated")
    shutil.copy(new_pub, keys_dir / "DISDAG.2026.pub")
    policy = with_keys(settings, keys_dir).policy
    old_signer, new_signer = signers["DISDAG"], Signer("DISDAG", load_private_key(new_key))
    a, b, c = workers({"DISDAG": 3}, JAN_20)
    batch = [*signed_records([a], old_signer), *signed_records([b], new_signer)]
    summary = await register(PostgresUnitOfWork(pool), batch, policy, NOW)
    assert (summary.counts.get("ACCEPTED"), sum(summary.dead_letters.values())) == (2, 0)
    # and a third key (not configured) does not
    stranger, _ = generate("DISDAG", tmp_path / "stranger")
    forged = signed_records([c], Signer("DISDAG", load_private_key(stranger)))
    summary = await register(PostgresUnitOfWork(pool), forged, policy, NOW)
    assert summary.dead_letters == {"UNAUTHENTICATED": 1}


async def test_forgery_and_real_submission_in_one_batch_the_real_one_is_accepted(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keys_dir, signers = agency_keys(tmp_path, "DISDAG", "DISHUB")
    policy = with_keys(settings, keys_dir).policy
    [payload] = workers({"DISDAG": 1}, JAN_20)
    forged = dict(payload, worker={**payload["worker"], "full_name": "Orang Lain"})
    batch = [
        *signed_records([forged], signers["DISHUB"]),
        *signed_records([payload], signers["DISDAG"]),
    ]
    summary = await register(PostgresUnitOfWork(pool), batch, policy, NOW)
    assert (summary.counts.get("ACCEPTED"), summary.dead_letters) == (1, {"UNAUTHENTICATED": 1})
    stored = await pool.fetchval("SELECT payload->'worker'->>'full_name' FROM submissions")
    assert stored == payload["worker"]["full_name"]


async def jamsos_cli(settings: Settings, keys_dir: Path, *args: str) -> tuple[int, str]:
    """`jamsos ARGS` as a subprocess pointed at this test's broker, database and keys."""
    import asyncio
    import sys

    from tests.conftest import clean_env
    from tests.integration.billing_support import cli_env

    env = {k: v for k, v in cli_env(settings).items() if v is not None}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jamsos",
        *args,
        env=clean_env(**env, JAMSOS_AGENCY_KEYS_DIR=str(keys_dir)),
        cwd=settings.state_dir,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_submit_and_terminate_with_key_are_signed_and_processed_when_signatures_required(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    keys_dir, _ = agency_keys(tmp_path, "DISDAG")
    key_file = tmp_path / "agencies" / "DISDAG.key"
    settings = with_keys(settings, keys_dir)
    [payload] = workers({"DISDAG": 1}, JAN_20)
    nik = payload["worker"]["nik"]
    file = tmp_path / "workers.json"
    file.write_text(json.dumps([payload]))
    async with running(settings, ["registration", "verification"]):
        code, out = await jamsos_cli(
            settings, keys_dir, "submit", str(file), "--agency", "DISDAG", "--key", str(key_file)
        )
        assert code == 0, out

        async def active() -> bool:
            status = await pool.fetchval("SELECT status FROM participants WHERE nik = $1", nik)
            return bool(status == "ACTIVE")

        await wait_until(active, what="the signed submission enrolled")
        # in the first month of coverage, as the services stamped it (not this test's clock,
        # which may have turned a month meanwhile)
        start = await pool.fetchval("SELECT coverage_start FROM participants WHERE nik = $1", nik)
        effective = start.replace(day=10)
        last_day = (start + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        code, out = await jamsos_cli(
            settings,
            keys_dir,
            *("terminate", nik, "--agency", "DISDAG", "--reason", "WITHDRAWN"),
            *("--effective", effective.isoformat(), "--key", str(key_file)),
        )
        assert code == 0, out
        assert f"coverage ends {last_day.isoformat()}" in out
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_submit_wait_exits_1_when_rows_end_in_the_dlq(
    settings: Settings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """`submit --wait` of a sheet sent unsigned while signatures are required: each row is
    dead-lettered (UNAUTHENTICATED), the results say so per row, and the exit code is 1."""
    keys_dir, _ = agency_keys(tmp_path, "DISDAG")
    settings = with_keys(settings, keys_dir)
    sheet = tmp_path / "pedagang.csv"
    sheet.write_text(
        "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,alamat,pekerjaan\n"
        "3319014506900001,Siti Aminah,05-06-1990,P,3319012001,Jl. Sunan Muria 4,pedagang\n"
        "3319020101850002,Budi Santoso,1985-01-01,L,3319021001,Jl. Ahmad Yani 1,pedagang\n",
        "utf-8",
    )
    async with running(settings, ["registration"]):
        code, out = await jamsos_cli(
            settings, keys_dir, "submit", str(sheet), "--agency", "DISDAG", "--wait",
            "--timeout", "120",
        )  # fmt: skip
    assert code == 1, out
    assert "2 row(s) went to the DLQ (jamsos.dlq.v1)" in out and "UNAUTHENTICATED" in out
    assert "not confirmed" not in out  # ended by the dead letters, not by the timeout
    results = (tmp_path / "pedagang.hasil.csv").read_text("utf-8")
    assert results.count("DEAD_LETTER") == 2, results
    assert await pool.fetchval("SELECT count(*) FROM submissions") == 0
