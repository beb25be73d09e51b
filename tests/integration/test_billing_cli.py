"""`jamsos reconcile`, `invoice list|show|export|pay` and the billing report on real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl
import pytest

from jamsos.adapters import db
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.reporting import billing_report
from jamsos.settings import Settings, load_settings
from jamsos.usecases.termination import terminate
from jamsos_schemas import topics
from tests.documents import page_texts, render_png, text_fonts
from tests.integration.billing_support import (
    AGENCY_FUNDING,
    JAN_20,
    bill,
    cli,
    enrol,
    feed_ledger,
    record,
    termination,
    workers,
)

pytestmark = pytest.mark.integration

COHORT = {"DISDAG": 3, "DISHUB": 2, "DINSOS": 2}
REGULAR = "JMS-PEMKAB-KUDUS-202502-01"


@pytest.fixture
def db_settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings with this test's database and no broker."""
    return replace(
        load_settings(env={}, cwd=tmp_path), database_url=database_url, state_dir=tmp_path
    )


@pytest.fixture
async def billed(pool: asyncpg.Pool, db_settings: Settings) -> list[dict[str, Any]]:
    """Seven participants enrolled on 20 January and billed for February."""
    async with pool.acquire() as conn:
        await db.sync_agencies(conn, db_settings.policy.agencies)  # as every service does
    payloads = workers(COHORT, JAN_20)
    await enrol(pool, db_settings, payloads, JAN_20)
    await feed_ledger(pool, JAN_20)
    await bill(pool, "2025-02")
    return payloads


async def test_reconcile_passes_on_billed_data(db_settings: Settings, billed: Any) -> None:
    result = await cli(db_settings, "reconcile")
    assert result.exit_code == 0, result.output
    assert "reconciled" in result.output


async def test_reconcile_fails_when_a_charge_line_is_tampered_with(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    await pool.execute(
        "UPDATE charges SET jkk = jkk - 1000, amount = amount - 1000"
        " WHERE charge_id = (SELECT min(charge_id) FROM charges)"
    )
    result = await cli(db_settings, "reconcile", "2025-02")
    assert result.exit_code == 1
    assert "Σ charge lines = Σ REGULAR + SUPPLEMENTARY totals" in result.output
    assert "every charge at the period's tariff" in result.output


async def test_reconcile_fails_when_a_charge_line_is_deleted(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    await pool.execute("DELETE FROM charges WHERE charge_id = (SELECT max(charge_id) FROM charges)")
    result = await cli(db_settings, "reconcile", "--json")
    assert result.exit_code == 1
    failed = {m["check"] for m in json.loads(result.stdout)["mismatches"]}
    assert "participants charged once = covered participants" in failed
    assert "Σ charge lines = Σ REGULAR + SUPPLEMENTARY totals" in failed
    # the invoices themselves still match the ledger: the charge lines are what is wrong
    assert "Σ invoice totals − credits = covered × tariff" not in failed


async def failed_checks(settings: Settings, *args: str) -> set[tuple[str, str]]:
    """(scope, check) of every mismatch `jamsos reconcile --json` reports; it must exit 1."""
    result = await cli(settings, "reconcile", "--json", *args)
    assert result.exit_code == 1, result.output
    return {(m["scope"], m["check"]) for m in json.loads(result.stdout)["mismatches"]}


async def test_reconcile_fails_when_an_invoice_total_is_tampered_with(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    await pool.execute(
        "UPDATE invoices SET participants = participants + 1, jkm = jkm + 16800,"
        " amount = amount + 16800 WHERE invoice_no = $1",
        REGULAR,
    )
    failed = await failed_checks(db_settings)
    assert (f"invoice {REGULAR}", "totals = Σ lines (amount)") in failed
    assert ("period 2025-02", "Σ charge lines = Σ REGULAR + SUPPLEMENTARY totals") in failed


async def test_reconcile_fails_when_an_invoice_line_is_tampered_with(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    await pool.execute(
        "UPDATE invoice_lines SET jkk = jkk + 10000, amount = amount + 10000"
        " WHERE invoice_no = $1 AND agency_code = 'DISHUB'",
        REGULAR,
    )
    failed = await failed_checks(db_settings, "2025-02")
    assert (f"invoice {REGULAR}", "totals = Σ lines (amount)") in failed
    assert (f"invoice {REGULAR} DISHUB/APBD", "line = Σ its charges (jkk)") in failed


async def test_reconcile_fails_when_an_outcome_event_is_deleted(
    db_settings: Settings, pool: asyncpg.Pool, billed: list[dict[str, Any]]
) -> None:
    deleted = await pool.execute(
        "DELETE FROM outbox WHERE topic = $1 AND convert_from(value, 'UTF8')::jsonb"
        " ->> 'submission_id' = $2",
        topics.ENROLLED,
        billed[0]["submission_id"],
    )
    assert deleted == "DELETE 1"
    failed = await failed_checks(db_settings)
    agency = billed[0]["agency_code"]
    assert {scope for scope, _ in failed} == {f"agency {agency}"}
    assert (f"agency {agency}", "one outcome event per decided submission") in failed


async def test_reconcile_fails_when_a_submission_status_is_altered(
    db_settings: Settings, pool: asyncpg.Pool, billed: list[dict[str, Any]]
) -> None:
    await pool.execute(
        "UPDATE submissions SET status = 'REJECTED' WHERE submission_id = $1",
        billed[0]["submission_id"],
    )
    failed = await failed_checks(db_settings)
    assert failed == {(f"agency {billed[0]['agency_code']}", "each status has its outcome event")}


async def test_reconcile_fails_when_the_ledger_misses_a_participant(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    await pool.execute(
        "DELETE FROM coverage WHERE membership_no = (SELECT min(membership_no) FROM coverage)"
    )
    result = await cli(db_settings, "reconcile")
    assert result.exit_code == 1
    assert "participants whose coverage the billing ledger lacks" in result.output


async def test_reconcile_reports_submission_in_flight_without_failing(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    await pool.execute(
        "INSERT INTO submissions (agency_code, submission_id, content_hash, payload,"
        " received_at, status) VALUES ('DISDAG', 'X-1', 'h', '{}'::jsonb, now(), 'RECEIVED')"
    )
    assert (await cli(db_settings, "reconcile")).exit_code == 0
    await pool.execute(
        "UPDATE submissions SET received_at = now() - interval '2 hours'"
        " WHERE submission_id = 'X-1'"
    )
    result = await cli(db_settings, "reconcile")
    assert result.exit_code == 1
    assert "no submission stuck in flight" in result.output


async def test_second_uncredited_charge_of_a_participant_month_is_refused_by_the_database(
    pool: asyncpg.Pool, billed: Any
) -> None:
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO charges (membership_no, period, coverage_start, nik, agency_code,"
            " payer_code, funding_source, jkk, jkm, amount, accrued_at, invoice_no)"
            " SELECT membership_no, period, coverage_start, nik, agency_code, payer_code,"
            " funding_source, jkk, jkm, amount, accrued_at, invoice_no FROM charges LIMIT 1"
        )


async def test_invoice_export_writes_quoted_csv_text_nik_xlsx_and_a_pdf_that_renders(
    db_settings: Settings, billed: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = await cli(db_settings, "invoice", "export", REGULAR, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    csv_text = (tmp_path / f"{REGULAR}.csv").read_text("utf-8")
    with (tmp_path / f"{REGULAR}.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["nik"] for r in rows) == sorted(p["worker"]["nik"] for p in billed)
    assert all(f'"{r["nik"]}"' in csv_text for r in rows)  # quoted: text, not a number
    assert f',"{rows[0]["sumber_dana"]}",10000,6800,16800' in csv_text  # amounts stay numbers
    assert sum(int(r["jumlah"]) for r in rows) == 7 * 16_800
    assert {r["opd"]: r["sumber_dana"] for r in rows} == {
        "DISDAG": "DBHCHT",
        "DISHUB": "APBD",
        "DINSOS": "APBD",
    }
    assert all(r["nama"] for r in rows)

    sheet = openpyxl.load_workbook(tmp_path / f"{REGULAR}.xlsx").active
    assert sheet is not None
    niks = [sheet.cell(row=r, column=4) for r in range(2, 2 + len(rows))]
    assert sorted(c.value for c in niks) == sorted(r["nik"] for r in rows)
    assert {c.number_format for c in niks} == {"@"}

    pdf = tmp_path / f"{REGULAR}.pdf"
    [text] = page_texts(pdf)
    for expected in (
        "TAGIHAN IURAN BPJS KETENAGAKERJAAN",
        f"Kepada Yth. {db_settings.letterhead.addressee.name}",
        "Periode Februari 2025",
        "Jumlah peserta",
        "Total 7 70.000 47.600 117.600",
        "Terbilang: Seratus tujuh belas ribu enam ratus rupiah",
        "Jumlah yang dibayarkan Rp117.600",
        "Dinas Perdagangan (DISDAG) DBHCHT 3",
        "15 Februari 2025",
        f"NIP {db_settings.letterhead.signatory.nip}",
        "Halaman 1 dari 1",
    ):
        assert expected in text, expected
    assert all(text_fonts(pdf).values())
    *_, dark = render_png(pdf, tmp_path / "page1.png")
    assert dark > 5_000  # the letterhead, tables and signature are drawn, not a blank page


async def credit_first_worker(
    pool: asyncpg.Pool, settings: Settings, billed: list[dict[str, Any]], reason: str
) -> None:
    """Terminate the first billed worker back into January and bill February again: the
    difference is the credit note JMS-PEMKAB-KUDUS-202502-02."""
    later = dt.datetime(2025, 2, 3, 9, 0, tzinfo=JAN_20.tzinfo)
    request = termination(billed[0]["worker"]["nik"], reason, "2025-01-25")
    await terminate(
        PostgresUnitOfWork(pool),
        [record(request, topics.TERMINATION_REQUESTED)],
        settings.policy,
        later,
    )
    await feed_ledger(pool, later)
    await bill(pool, "2025-02", later)


async def test_credit_note_export_cites_the_regular_invoice_and_has_negative_lines(
    db_settings: Settings, pool: asyncpg.Pool, billed: list[dict[str, Any]], tmp_path: Path
) -> None:
    await credit_first_worker(pool, db_settings, billed, "DECEASED")
    credit = "JMS-PEMKAB-KUDUS-202502-02"
    result = await cli(db_settings, "invoice", "export", credit, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    with (tmp_path / f"{credit}.csv").open(encoding="utf-8") as f:
        [line] = list(csv.DictReader(f))
    assert (line["nik"], line["jumlah"]) == (billed[0]["worker"]["nik"], "-16800")
    [text] = page_texts(tmp_path / f"{credit}.pdf")
    agency = billed[0]["agency_code"]
    for expected in (
        "NOTA KREDIT IURAN BPJS KETENAGAKERJAAN",
        f"Koreksi atas {REGULAR}",
        f"({agency}) {AGENCY_FUNDING[agency]} 1 -10.000 -6.800 -16.800",
        "Total 1 -10.000 -6.800 -16.800",
        "Terbilang: Minus enam belas ribu delapan ratus rupiah",
        "-Rp16.800",
    ):
        assert expected in text, expected
    render_png(tmp_path / f"{credit}.pdf", tmp_path / "credit.png")


async def test_supplementary_invoice_export_cites_the_regular_invoice(
    db_settings: Settings, pool: asyncpg.Pool, billed: list[dict[str, Any]], tmp_path: Path
) -> None:
    late = JAN_20 + dt.timedelta(days=5)  # still covered from 2025-02-01
    await enrol(pool, db_settings, workers({"DINSOS": 1}, late, seed=8), late)
    await feed_ledger(pool, late)
    await bill(pool, "2025-02", late)
    supplementary = "JMS-PEMKAB-KUDUS-202502-02"
    result = await cli(db_settings, "invoice", "export", supplementary, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    [text] = page_texts(tmp_path / f"{supplementary}.pdf")
    assert "Jenis Tagihan susulan" in text
    assert f"Melengkapi {REGULAR}" in text
    assert "Terbilang: Enam belas ribu delapan ratus rupiah" in text
    render_png(tmp_path / f"{supplementary}.pdf", tmp_path / "supplementary.png")


async def test_invoice_list_and_show_print_totals(db_settings: Settings, billed: Any) -> None:
    listed = await cli(db_settings, "invoice", "list", "--period", "2025-02")
    assert listed.exit_code == 0 and REGULAR in listed.output and "Rp117.600" in listed.output
    shown = await cli(db_settings, "invoice", "show", REGULAR)
    assert shown.exit_code == 0 and "DISDAG" in shown.output and "Rp50.400" in shown.output
    missing = await cli(db_settings, "invoice", "show", REGULAR[:-1])  # numbers are exact
    assert missing.exit_code == 1
    assert f"error: no invoice {REGULAR[:-1]} (see `jamsos invoice list`)" in missing.output


async def test_unpaid_period_after_the_15th_warns_until_paid(
    db_settings: Settings, pool: asyncpg.Pool, billed: Any
) -> None:
    async with pool.acquire() as conn:
        before_due = await billing_report(conn, dt.date(2025, 2, 15))
        overdue = await billing_report(conn, dt.date(2025, 2, 16))
    assert before_due["warnings"] == []
    assert overdue["warnings"] == ["period 2025-02: Rp117.600 unpaid after the due date 2025-02-15"]
    paid = await cli(
        db_settings,
        "invoice",
        "pay",
        REGULAR,
        "--amount",
        "117600",
        "--reference",
        "SP2D-1",
        "--paid-on",
        "14/02/2025",
    )
    assert paid.exit_code == 0, paid.output
    async with pool.acquire() as conn:
        after = await billing_report(conn, dt.date(2025, 2, 16))
    assert after["warnings"] == []
    assert after["periods"][0]["paid"] == 117_600
    row = await pool.fetchrow("SELECT status, paid_at FROM invoices")
    assert row is not None and row["status"] == "PAID"


async def test_paying_a_credit_note_is_refused(
    db_settings: Settings, pool: asyncpg.Pool, billed: list[dict[str, Any]]
) -> None:
    await credit_first_worker(pool, db_settings, billed, "WITHDRAWN")
    result = await cli(
        db_settings,
        "invoice",
        "pay",
        "JMS-PEMKAB-KUDUS-202502-02",
        "--amount",
        "16800",
        "--reference",
        "SP2D-2",
    )
    assert result.exit_code == 1
    assert "credit note" in result.output


async def test_billing_commands_without_database_exit_2(tmp_path: Path) -> None:
    settings = replace(load_settings(env={}, cwd=tmp_path), state_dir=tmp_path)
    for args in (["reconcile"], ["invoice", "list"], ["bill", "2025-02"]):
        result = await cli(settings, *args)
        assert result.exit_code == 2, (args, result.output)


async def test_bill_with_malformed_period_exits_2(db_settings: Settings) -> None:
    result = await cli(replace(db_settings, kafka_bootstrap="127.0.0.1:1"), "bill", "2025-13")
    assert result.exit_code == 2
    assert "month must be 1-12" in result.output
