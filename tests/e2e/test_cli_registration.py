"""A clerk's spreadsheet through the CLI: topics create → db migrate → run → submit → report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jamsos.synthetic import nik_for
from jamsos_schemas import topics
from tests.conftest import markers_dead_lettered, publish_markers, wait_until
from tests.e2e.conftest import Cli
from tests.factory import aged

pytestmark = pytest.mark.e2e

# Ages as of today (`submit` judges them on today; the rule is 18-65): every year the same.
SITI, BUDI, AYU = aged(35, 6, 5), aged(40, 1, 1), aged(25, 6, 15)
CSV = f"""nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,alamat,pekerjaan,no_hp
{nik_for(SITI, "F", 1)},Siti Aminah,{SITI:%d-%m-%Y},P,33.19.01.2001,Jl. Sunan Muria 4,pedagang,\
+62812345678
{nik_for(BUDI, "M", 2, "331902")},Budi Santoso,{BUDI:%Y-%m-%d},L,3319021001,Jl. Ahmad Yani 1,\
pedagang kaki lima,
{nik_for(AYU, "F", 3)},Ayu Lestari,{AYU:%Y-%m-%d},P,3374011001,Semarang,pedagang,
3319020101850004,Joko Wibowo,31/02/1985,L,3319021001,,pedagang,
"""


def report(cli: Cli) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli("report", "--json").stdout)
    return data


async def test_spreadsheet_submitted_through_cli_gets_one_outcome_per_valid_row(
    cli: Cli, tmp_path: Path
) -> None:
    assert "created" in cli("topics", "create").stdout
    assert "created" not in cli("topics", "create").stdout  # idempotent
    cli("db", "migrate")
    assert "up to date" in cli("db", "migrate").stdout
    cli.start("run", "all")
    sheet = tmp_path / "pedagang.csv"
    sheet.write_text(CSV, "utf-8")

    submitted = cli("submit", str(sheet), "--agency", "DISDAG", check=False)
    assert submitted.returncode == 1, submitted.stdout  # one row has an impossible date
    assert "3 dikirim (published)" in submitted.stdout and "tanggal_lahir" in submitted.stdout

    # The wait polls the database: a `jamsos` process per poll takes seconds on a loaded machine.
    conn = await asyncpg.connect(cli.env["JAMSOS_DATABASE_URL"])
    try:

        async def decided() -> bool:
            n = await conn.fetchval("SELECT count(*) FROM submissions WHERE status <> 'RECEIVED'")
            return bool(n == 3)

        await wait_until(decided, timeout=120, what="three outcomes")
    finally:
        await conn.close()
    data = report(cli)
    assert data["outcomes"] == {"ENROLLED": 2, "REJECTED": 1}
    assert data["rejection_reasons"] == {"OUT_OF_REGION": 1}
    assert {row["kecamatan"]: row["active"] for row in data["per_kecamatan"]} == {
        "Kaliwungu": 1,
        "Kota Kudus": 1,
    }

    outcomes_before = await outcome_events(cli)
    assert len(outcomes_before) == 3
    again = cli("submit", str(sheet), "--agency", "DISDAG", check=False)  # same file: same ids
    assert "3 tidak berubah (unchanged, sudah dikirim)" in again.stdout
    assert "0 dikirim (published)" in again.stdout
    # Whatever the re-upload sent is consumed once the marker behind it on each partition is.
    markers = await publish_markers(cli.env["JAMSOS_KAFKA_BOOTSTRAP"], topics.SUBMITTED)
    conn = await asyncpg.connect(cli.env["JAMSOS_DATABASE_URL"])
    try:
        await wait_until(lambda: markers_dead_lettered(conn, markers), what="the markers")
        letters = await conn.fetch("SELECT value FROM dead_letters")
    finally:
        await conn.close()
    assert report(cli)["submissions"] == 3
    assert await outcome_events(cli) == outcomes_before  # no second outcome
    assert sorted(bytes(r["value"]) for r in letters) == sorted(markers)  # nor a dead letter


async def outcome_events(cli: Cli) -> list[tuple[str, str]]:
    """(topic, event_id) of every outcome event the system has decided to publish."""
    conn = await asyncpg.connect(cli.env["JAMSOS_DATABASE_URL"])
    try:
        rows = await conn.fetch(
            "SELECT topic, event_id::text FROM outbox WHERE topic = ANY($1::text[]) ORDER BY 2",
            [topics.ENROLLED, topics.REJECTED, topics.DUPLICATE, topics.REVIEW_REQUIRED],
        )
    finally:
        await conn.close()
    return [(r["topic"], r["event_id"]) for r in rows]
