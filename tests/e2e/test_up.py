"""`jamsos up` on a bare machine: embedded broker and PostgreSQL, every service; the contract's
example published by an outside Kafka client is enrolled once, even when published twice."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from jamsos_schemas import topics
from tests.conftest import (
    clean_env,
    markers_dead_lettered,
    publish_markers,
    read_topic,
    wait_until,
)
from tests.factory import CONTRACT_EXAMPLE

pytestmark = pytest.mark.e2e


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


@pytest.fixture
def up(tmp_path: Path, embedded_state_dir: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    env = clean_env(JAMSOS_STATE_DIR=str(embedded_state_dir))
    log = tmp_path / "up.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jamsos", "up"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    yield proc, log
    if proc.poll() is None:  # the test failed before stopping it: stop it as an operator would
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_up_enrols_the_contract_example_once_and_stops_cleanly(
    up: tuple[subprocess.Popen[str], Path],
) -> None:
    proc, log = up

    async def started() -> dict[str, str] | None:
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        if "running" not in text:
            return None
        return dict(re.findall(r"export (JAMSOS_\w+)='?([^'\n]+)'?", text))

    exported = await wait_until(started, timeout=120, what="jamsos up to start")
    bootstrap, dsn = exported["JAMSOS_KAFKA_BOOTSTRAP"], exported["JAMSOS_DATABASE_URL"]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        value = json.dumps(CONTRACT_EXAMPLE).encode()
        for _ in range(2):
            await producer.send_and_wait(topics.SUBMITTED, value, key=b"3319014506900001")
    finally:
        await producer.stop()

    async def enrolled() -> list[dict[str, object]]:
        return await read_topic(bootstrap, topics.ENROLLED)

    [event] = await wait_until(enrolled, timeout=60, what="participant.enrolled")
    assert event["membership_no"] and event["coverage_start"]
    assert event["monthly_premium"] == {"JKK": 10000, "JKM": 6800, "total": 16800}
    conn = await asyncpg.connect(dsn)
    try:
        # The second copy is consumed once the marker behind it on its partition is.
        markers = await publish_markers(bootstrap, topics.SUBMITTED)
        await wait_until(lambda: markers_dead_lettered(conn, markers), what="the markers")

        async def drained() -> bool:
            n = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            return bool(n == 0)

        await wait_until(drained, what="the outbox to drain")
        assert await conn.fetchval("SELECT count(*) FROM submissions") == 1
        rows = await conn.fetch("SELECT topic FROM outbox WHERE topic <> $1", topics.DLQ)
        assert sorted(r["topic"] for r in rows) == sorted([topics.ACCEPTED, topics.ENROLLED])
        letters = await conn.fetch("SELECT value FROM dead_letters")
        assert sorted(bytes(r["value"]) for r in letters) == sorted(markers)
    finally:
        await conn.close()
    assert len(await read_topic(bootstrap, topics.ENROLLED)) == 1
    [page] = re.findall(r"^dashboard (http://\S+)$", log.read_text(), re.MULTILINE)
    summary = await asyncio.to_thread(_get_json, page + "api/summary")
    assert summary["submissions"] == 1 and summary["outcomes"] == {"ENROLLED": 1}

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0, log.read_text()
    text = log.read_text()
    # after its export lines `up` logs one INFO line per batch, and never a whole NIK or phone
    assert re.search(r"batch consumer=registration records=\d+ new=\d+ .* ms=\d+", text)
    assert re.search(r"batch consumer=verification records=1 .*ENROLLED:1", text), text
    worker = CONTRACT_EXAMPLE["worker"]
    assert worker["nik"] not in text and worker["phone"] not in text
