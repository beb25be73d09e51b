"""No NIK, phone number or street address of a feed in the services' logs or in the output a
clerk or operator does not need it in (README, "Personal data").

An end-to-end run through `jamsos run all` (at DEBUG, more than production logs) with valid rows,
rejections of every kind the feed can give, a cross-agency duplicate, a truncated record and a
deceased worker submitted again; then every service log line and the stdout/stderr of the
commands below are searched for every NIK, phone and street of the feed. Commands that show
one person's data to someone who asked for it by NIK (`participant show`, `submission status
--nik`, `review list`) and the clerk's own result files are allowed to, and not searched."""

from __future__ import annotations

import json
import re
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from jamsos.synthetic import nik_for
from jamsos_schemas import topics
from tests.conftest import wait_until
from tests.e2e.conftest import Cli
from tests.factory import aged

pytestmark = pytest.mark.e2e

# Ages as of today (`submit` judges them on today; the rule is 18-65), so that the under-age
# and too-old rows stay so in every year.
SITI, BUDI, AYU = aged(35, 6, 5), aged(40, 1, 1), aged(25, 6, 15)
DEWI, WATI = aged(15, 5, 15), aged(70, 7, 1)
ROWS = [  # NIK, name, birth date, sex, village, street, occupation, phone
    (nik_for(SITI, "F", 1), "Siti Aminah", f"{SITI:%d-%m-%Y}", "P", "3319012001",
     "Jl. Sunan Muria 4 RT 02 RW 01", "pedagang", "+6281234567801"),
    (nik_for(BUDI, "M", 2, "331902"), "Budi Santoso", f"{BUDI:%Y-%m-%d}", "L", "3319021001",
     "Jl. Ahmad Yani 12", "pedagang kaki lima", "081234567802"),
    (nik_for(AYU, "F", 3), "Ayu Lestari", f"{AYU:%Y-%m-%d}", "P", "3374011001",
     "Jl. Pandanaran 3 Semarang", "pedagang", "0812-3456-7803"),  # out of region
    (nik_for(DEWI, "F", 4, "331902"), "Dewi Kecil", f"{DEWI:%d-%m-%Y}", "P", "3319021001",
     "Gang Mawar 7", "pedagang", "081234567804"),  # under age
    ("3319020101850005", "Joko Wibowo", "31/02/1985", "L", "3319021001",
     "Jl. Kenanga 9", "pedagang", "081234567805"),  # impossible date: not sent
    (nik_for(WATI, "F", 6, "331902"), "Wati Sepuh", f"{WATI:%d-%m-%Y}", "P", "3319021001",
     "Jl. Melati 2", "pedagang", "081234567806"),  # too old
]  # fmt: skip
HEADER = "nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,alamat,pekerjaan,no_hp\n"
TRUNCATED_NIK = "3319016006880007"
TRUNCATED_STREET = "Jl. Truncated Tengah 5"


def csv_text(rows: list[tuple[str, ...]]) -> str:
    return HEADER + "".join(",".join(row) + "\n" for row in rows)


def secrets_of_the_feed() -> list[str]:
    found = [TRUNCATED_NIK, TRUNCATED_STREET]
    for row in ROWS:
        digits = re.sub(r"\D", "", row[7])
        found += [row[0], row[5], digits[-10:]]  # the phone without its prefix and dashes
    return found


def leaks(text: str) -> list[str]:
    flat = re.sub(r"[ -]", "", text)  # a phone printed with other separators still counts
    return [s for s in secrets_of_the_feed() if s in text or re.sub(r"[ -]", "", s) in flat]


async def test_no_nik_phone_or_street_of_the_feed_in_logs_or_operator_output(
    cli: Cli, tmp_path: Path
) -> None:
    cli("topics", "create")
    cli("db", "migrate")
    cli.env["JAMSOS_LOG_LEVEL"] = "DEBUG"  # the most the services ever log
    cli.start("run", "all")
    outputs: dict[str, str] = {}

    def run(*args: str) -> None:
        done = cli(*args, check=False)
        outputs[" ".join(args)] = done.stdout + done.stderr

    sheet = tmp_path / "pedagang.csv"
    sheet.write_text(csv_text(ROWS), "utf-8")
    run("submit", str(sheet), "--agency", "DISDAG")
    duplicate = tmp_path / "dishub.csv"
    duplicate.write_text(csv_text([ROWS[1]]), "utf-8")  # Budi, by another agency
    run("submit", str(duplicate), "--agency", "DISHUB")
    bootstrap = cli.env["JAMSOS_KAFKA_BOOTSTRAP"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        truncated = json.dumps(
            {"agency_code": "DISDAG", "submission_id": "T-1",
             "worker": {"nik": TRUNCATED_NIK, "address": {"street": TRUNCATED_STREET}}}
        )[:-7]  # fmt: skip
        await producer.send_and_wait(topics.SUBMITTED, truncated.encode(), key=b"T-1")
    finally:
        await producer.stop()

    async def settled() -> bool:
        conn = await asyncpg.connect(cli.env["JAMSOS_DATABASE_URL"])
        try:
            decided = await conn.fetchval(
                "SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'"
            )
            letters = await conn.fetchval("SELECT count(*) FROM dead_letters")
        finally:
            await conn.close()
        return bool(decided == 6 and letters == 1)

    await wait_until(settled, timeout=120, what="six outcomes and one dead letter")
    run("terminate", ROWS[0][0], "--agency", "DISDAG", "--reason", "DECEASED",
        "--effective", "2025-03-01")  # fmt: skip
    again = tmp_path / "lagi.csv"  # the deceased worker once more: rejected as DECEASED
    again.write_text(csv_text([ROWS[0]]), "utf-8")
    run("submit", str(again), "--agency", "DISHUB", "--wait")
    result = (tmp_path / "lagi.hasil.csv").read_text("utf-8-sig")
    assert "meninggal" in result and ROWS[0][0] in result  # the clerk's own file: the NIK
    run("ops", "dlq", "list", "--all")
    run("report")
    run("report", "--json")
    run("reconcile")
    run("participant", "show", TRUNCATED_NIK)  # only in a dead letter: an error line
    shown = cli("participant", "show", ROWS[1][0])  # asked for by NIK: shown (and found here)
    assert leaks(shown.stdout)
    for proc in cli.services:
        proc.terminate()
        proc.wait(timeout=60)
    logs = "".join(p.read_text("utf-8") for p in sorted(tmp_path.glob("service-*.log")))  # noqa: ASYNC240
    assert "batch consumer=registration" in logs  # the log is the INFO log of a real run
    assert not leaks(logs), [line for line in logs.splitlines() if leaks(line)][:5]
    for command, text in outputs.items():
        assert not leaks(text), (command, [line for line in text.splitlines() if leaks(line)])
    assert (
        "error: no submission or participant with NIK 3319"
        in outputs[f"participant show {TRUNCATED_NIK}"]
    )
