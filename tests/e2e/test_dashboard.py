"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright): a cohort
runs through the services on tansu and PostgreSQL, `jamsos dashboard` serves the page, and the
figures on the page are those of `jamsos report --json`."""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page, async_playwright

from jamsos import billing_requests, synthetic
from jamsos.adapters import dead_letters
from jamsos.adapters.kafka_admin import consumer_lag
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.bootstrap import consumer_groups
from jamsos.cli.demo_flow import build_cohort
from jamsos.dashboard import Dashboard
from jamsos.domain.period import Period
from jamsos.indonesian import number, rupiah
from jamsos.publishing import publish_raw, publish_submissions
from jamsos.reporting import report_data
from jamsos.settings import Settings, load_settings
from jamsos.usecases.payments import pay
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics
from tests.conftest import clean_env, running, wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"  # Debian's package; scripts/test.sh installs it
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _env(bootstrap: str, database_url: str, port: int, group_prefix: str) -> dict[str, str]:
    return clean_env(
        JAMSOS_KAFKA_BOOTSTRAP=bootstrap,
        JAMSOS_DATABASE_URL=database_url,
        JAMSOS_DASHBOARD_PORT=str(port),
        JAMSOS_GROUP_PREFIX=group_prefix,
    )


@pytest.fixture
def dashboard(settings: Settings, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`jamsos dashboard` on a port the system chooses; its output goes to a log file."""
    log = tmp_path / "dashboard.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jamsos", "dashboard"],
            env=_env(
                settings.kafka_bootstrap or "",
                settings.database_url or "",
                0,
                settings.group_prefix,
            ),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    yield proc, log
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def _settled(pool: asyncpg.Pool, submissions: int, dead_letters: int) -> bool:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM submissions WHERE status <> 'RECEIVED') AS decided,"
        " (SELECT count(*) FROM dead_letters) AS dead,"
        " (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished"
    )
    assert row is not None
    return bool(
        row["decided"] == submissions and row["dead"] == dead_letters and row["unpublished"] == 0
    )


async def _run_cohort(settings: Settings, pool: asyncpg.Pool) -> None:
    """The demo's cohort (every kind of problem), a look-alike held for review, two billed
    months of which the first is paid."""
    now = jakarta_now()
    cohort = build_cohort(60, now)
    await publish_raw(settings, topics.SUBMITTED, cohort.messages)
    await wait_until(
        lambda: _settled(pool, len(cohort.identities), cohort.dead_letters),
        timeout=120,
        what="every submission's outcome",
    )
    twin = await pool.fetchval(
        "SELECT worker FROM participants WHERE status = 'ACTIVE' ORDER BY membership_no LIMIT 1"
    )
    lookalike = dict(twin, nik=twin["nik"][:12] + "0001", full_name=twin["full_name"].upper())
    await publish_submissions(
        settings, [synthetic.submission("DISHUB", "DISHUB-E2E-TWIN-1", lookalike, now)]
    )
    await wait_until(
        lambda: _settled(pool, len(cohort.identities) + 1, cohort.dead_letters),
        what="the look-alike to be held",
    )
    await billing_requests.wait_ledger(pool)
    # the services' own enrolment stamp, not this test's clock (a month may turn meanwhile)
    first = Period.of(await pool.fetchval("SELECT min(coverage_start) FROM participants"))
    paid = await billing_requests.bill(settings, pool, first)
    await billing_requests.bill(settings, pool, first.next())
    for invoice in paid.invoices:
        await pay(
            PostgresUnitOfWork(pool),
            invoice.invoice_no,
            invoice.amount,
            f"E2E-{invoice.seq}",
            now.date(),
        )
    async with pool.acquire() as conn:  # an operator has dealt with one dead letter
        letter = await conn.fetchval("SELECT event_id::text FROM dead_letters LIMIT 1")
        await dead_letters.mark_discarded(conn, letter, "e2e: not a submission")


async def _chart(page: Page, canvas: str) -> dict[str, Any]:
    data: dict[str, Any] = await page.evaluate(
        "id => { const d = Chart.getChart(id).data;"
        " return {labels: d.labels, data: d.datasets.map(s => s.data)}; }",
        canvas,
    )
    return data


async def _text(page: Page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def _lag_per_group(settings: Settings) -> dict[str, int]:
    """What `jamsos ops lag --json` says, summed per group."""
    assert settings.kafka_bootstrap is not None
    rows = await consumer_lag(
        settings.kafka_bootstrap, consumer_groups(settings), prefix=settings.group_prefix
    )
    lag: dict[str, int] = {}
    for row in rows:
        lag[row.group] = lag.get(row.group, 0) + row.lag
    return lag


async def _assert_page_shows(page: Page, report: dict[str, Any]) -> None:
    progress = report["progress"]
    assert await _text(page, "#kpi-active") == number(progress["active"])
    assert await _text(page, "#kpi-target") == number(progress["target"]) == "26.000"
    assert await _text(page, "#kpi-percent") == f"{progress['percent']:.1f}%".replace(".", ",")
    assert await _text(page, "#kpi-submissions") == number(report["submissions"])
    for status in ("ENROLLED", "DUPLICATE", "REJECTED", "REVIEW", "RECEIVED"):
        assert await _text(page, f"#kpi-{status}") == number(report["outcomes"].get(status, 0))
    assert await _text(page, "#kpi-dlq") == number(report["dead_letters_open"])
    assert await _text(page, "#kpi-dlq-total") == number(report["dead_letters"])
    assert await _text(page, "#kpi-outbox") == number(report["outbox_unpublished"])
    last_batch = await page.locator("#kpi-last-batch").get_attribute("datetime")
    assert last_batch == report["last_processed_at"]

    weekly = await _chart(page, "chart-weekly")
    total, cumulative = 0, [0]
    for week in report["enrolments_per_week"]:
        total += week["enrolled"]
        cumulative.append(total)
    assert weekly["data"][0] == cumulative

    agencies = await _chart(page, "chart-agency")
    assert agencies["labels"] == [row["agency_code"] for row in report["per_agency"]]
    assert agencies["data"] == [[row["active"] for row in report["per_agency"]]]

    active = {row["kecamatan"]: row["active"] for row in report["per_kecamatan"]}
    kecamatan = await _chart(page, "chart-kecamatan")
    assert len(kecamatan["labels"]) == 9
    assert dict(zip(kecamatan["labels"], kecamatan["data"][0], strict=True)) == {
        name: active.get(name, 0) for name in kecamatan["labels"]
    }
    for row in report["per_kecamatan"]:
        tile = page.locator(f"#kec-{row['kecamatan_code']} .n")
        assert (await tile.inner_text()).strip() == number(row["active"])

    outcomes = await _chart(page, "chart-outcomes")
    assert outcomes["data"] == [
        [report["outcomes"].get(s, 0) for s in ("ENROLLED", "DUPLICATE", "REJECTED", "REVIEW")]
        + [report["outcomes"].get("RECEIVED", 0)]
    ]
    reasons = await _chart(page, "chart-reasons")
    assert [label[0] for label in reasons["labels"]] == list(report["rejection_reasons"])
    assert reasons["data"] == [list(report["rejection_reasons"].values())]

    periods = report["billing"]["periods"]
    billing = await _chart(page, "chart-billing")
    assert billing["data"][0] == [p["paid"] for p in periods]
    assert [a + b for a, b in zip(billing["data"][1], billing["data"][2], strict=True)] == [
        max(0, p["outstanding"]) for p in periods
    ]
    for p in periods:
        cells = await page.locator(f"#billing-table tr[data-period='{p['period']}'] td").all()
        texts = [(await cell.inner_text()).strip() for cell in cells]
        assert texts[1:6] == [
            number(p["invoices"]),
            number(p["participants"]),
            rupiah(p["amount"]),
            rupiah(p["paid"]),
            rupiah(p["outstanding"]),
        ]


async def test_dashboard_in_chromium_shows_the_figures_of_the_report_and_refreshes(
    settings: Settings,
    dashboard: tuple[subprocess.Popen[str], Path],
    tmp_path: Path,
) -> None:
    proc, log = dashboard

    async def url() -> str | None:
        assert proc.poll() is None, log.read_text()
        found = re.search(r"dashboard (http://127\.0\.0\.1:\d+/)", log.read_text())
        return found.group(1) if found else None

    async with running(settings, ["registration", "verification", "billing"]) as runtime:
        await _run_cohort(settings, runtime.pool)
        address = await wait_until(url, timeout=60, what="jamsos dashboard to listen")
        report = await report_data(settings)
        assert report["outcomes"]["REVIEW"] == 1 and report["rejection_reasons"]
        assert report["dead_letters"] == report["dead_letters_open"] + 1 == 3
        assert {p["paid"] > 0 for p in report["billing"]["periods"]} == {True, False}

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            page = await browser.new_page(viewport={"width": 1440, "height": 900})
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(address)
            await page.wait_for_selector("body[data-state=ready]", timeout=30_000)
            await _assert_page_shows(page, report)
            lag = await _chart(page, "chart-lag")
            assert dict(zip(lag["labels"], lag["data"][0], strict=True)) == await _lag_per_group(
                settings
            )
            assert all(g.startswith(settings.group_prefix + ".") for g in lag["labels"])
            assert requested and all(u.startswith(address) for u in requested), requested

            # a new enrolment shows up without reloading the page
            late = synthetic.submission(
                "DINSOS",
                f"DINSOS-E2E-LATE-{uuid.uuid4().hex[:6]}",
                synthetic.worker(random.Random(7), 9_000, jakarta_now().date()),
                jakarta_now(),
            )
            await publish_submissions(settings, [late])
            before = report["submissions"]

            async def updated() -> dict[str, Any] | None:
                data = await report_data(settings)
                return data if data["submissions"] == before + 1 else None

            await wait_until(updated, what="the late submission in the report")
            await wait_until(
                lambda: _settled(runtime.pool, before + 1, report["dead_letters"]),
                what="the late submission's outcome",
            )
            report = await report_data(settings)
            await page.wait_for_function(
                "n => document.getElementById('kpi-submissions').textContent === n",
                arg=number(report["submissions"]),
                timeout=30_000,
            )
            await _assert_page_shows(page, report)

            shot = tmp_path / "dashboard.png"
            await page.screenshot(path=str(shot), full_page=True)
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(shot, ARTIFACTS / "dashboard.png")
            await browser.close()


def test_dashboard_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "jamsos", "dashboard"],
            env=_env("127.0.0.1:9", "postgresql://127.0.0.1:9/none", port, "unused"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    output = (result.stdout + result.stderr).strip()
    assert output.splitlines() == [output]
    assert (
        f"dashboard port {port} cannot be used (Address already in use)" in output
        and "Traceback" not in output
    )


async def test_dashboard_with_the_broker_down_shows_the_figures_and_says_lag_is_unreadable(
    database_url: str, tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{probe.getsockname()[1]}"
    settings = replace(
        load_settings(env={}, cwd=tmp_path), kafka_bootstrap=dead, database_url=database_url
    )
    page_server = Dashboard(0)
    stop = asyncio.Event()
    serving = asyncio.create_task(page_server.serve(settings, stop))
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            page = await browser.new_page()
            await page.goto(page_server.url)
            await page.wait_for_selector("body[data-state=ready]", timeout=30_000)
            assert await _text(page, "#kpi-active") == "0"
            assert "tidak dapat dibaca" in await _text(page, "#lag-note")
            response = await page.request.get(page_server.url + "api/lag")
            assert response.status == 503 and dead in (await response.json())["error"]
            await browser.close()
    finally:
        stop.set()
        await serving
        page_server.close()
