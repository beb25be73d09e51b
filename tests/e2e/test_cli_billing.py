"""Billing through the CLI: submit → bill → invoice list/export/pay → report → reconcile."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from jamsos.synthetic import nik_for
from tests.conftest import wait_until
from tests.e2e.conftest import Cli
from tests.factory import aged

pytestmark = pytest.mark.e2e

# Ages as of today (`submit` judges them on today; the rule is 18-65): every year the same.
SITI, BUDI, EKO = aged(35, 6, 5), aged(40, 1, 1), aged(45, 3, 12)
CSV = f"""nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,alamat,pekerjaan,no_hp
{nik_for(SITI, "F", 1)},Siti Aminah,{SITI:%d-%m-%Y},P,33.19.01.2001,Jl. Sunan Muria 4,\
pedagang pasar,
{nik_for(BUDI, "M", 2, "331902")},Budi Santoso,{BUDI:%Y-%m-%d},L,3319021001,Jl. Ahmad Yani 1,\
pedagang kaki lima,
"""
OJEK = f"""nik,nama,tanggal_lahir,jenis_kelamin,kode_desa,alamat,pekerjaan,no_hp
{nik_for(EKO, "M", 3, "331902")},Eko Pratama,{EKO:%Y-%m-%d},L,3319021001,\
Jl. Jenderal Sudirman 7,pengemudi ojek,
"""


def report(cli: Cli) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli("report", "--json").stdout)
    return data


async def enrolment_month(cli: Cli) -> dt.date:
    """The one month (Asia/Jakarta) in which every participant was enrolled."""
    conn = await asyncpg.connect(cli.env["JAMSOS_DATABASE_URL"])
    try:
        rows = await conn.fetch(
            "SELECT DISTINCT date_trunc('month', enrolled_at AT TIME ZONE 'Asia/Jakarta')::date"
            " AS month FROM participants"
        )
    finally:
        await conn.close()
    [month] = [r["month"] for r in rows]
    return month  # type: ignore[no-any-return]


async def test_month_billed_through_cli_is_exported_paid_reported_and_reconciled(
    cli: Cli, tmp_path: Path
) -> None:
    cli("topics", "create")
    cli("db", "migrate")
    cli.start("run", "all")
    for name, agency, text in (("dag.csv", "DISDAG", CSV), ("hub.csv", "DISHUB", OJEK)):
        (tmp_path / name).write_text(text, "utf-8")
        cli("submit", str(tmp_path / name), "--agency", agency)

    # Waits poll the database: a `jamsos` process per poll takes seconds on a loaded machine.
    conn = await asyncpg.connect(cli.env["JAMSOS_DATABASE_URL"])
    try:

        async def enrolled_and_in_ledger() -> bool:
            n = await conn.fetchval(
                "SELECT count(*) FROM participants JOIN coverage c"
                " USING (membership_no, coverage_start) WHERE c.payer_code IS NOT NULL"
            )
            return bool(n == 3)

        await wait_until(enrolled_and_in_ledger, timeout=120, what="three enrolments in the ledger")
    finally:
        await conn.close()
    assert report(cli)["outcomes"] == {"ENROLLED": 3}
    # The contract's default rule: covered from the month after enrolment. The month comes
    # from the services' own stamp, so a month boundary while the test runs changes nothing.
    enrolled_in = await enrolment_month(cli)
    period = f"{enrolled_in.year + enrolled_in.month // 12}-{enrolled_in.month % 12 + 1:02d}"
    number = f"JMS-PEMKAB-KUDUS-{period.replace('-', '')}-01"
    assert "reconciled" in cli("reconcile").stdout  # the ledger is in step with enrolment
    first = json.loads(cli("bill", period, "--json").stdout)
    [invoice] = first["invoices"]
    assert (invoice["invoice_no"], invoice["kind"]) == (number, "REGULAR")
    again = json.loads(cli("bill", period, "--json").stdout)
    assert again["outcome"] == "DONE" and again["invoices"] == []
    assert invoice["participants"] == 3 and invoice["amount"] == 3 * 16_800

    cli("invoice", "export", number, "--out", str(tmp_path / "out"))
    with (tmp_path / "out" / f"{number}.csv").open(encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert {(r["opd"], r["sumber_dana"]) for r in lines} == {
        ("DISDAG", "DBHCHT"),
        ("DISHUB", "APBD"),
    }
    assert (tmp_path / "out" / f"{number}.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "out" / f"{number}.xlsx").is_file()

    assert (
        "PAID"
        in cli(
            "invoice", "pay", number, "--amount", str(3 * 16_800), "--reference", "SP2D-7"
        ).stdout
    )
    billing = report(cli)["billing"]
    assert billing["warnings"] == []
    assert billing["periods"][0]["paid"] == 3 * 16_800
    assert "reconciled" in cli("reconcile").stdout
