"""The billing ledger's intake through the service: `jamsos run billing` taking N
`participant.enrolled` events from the broker into `coverage`, against what reading them
costs without any database on the same broker (the floor), in one run.

The issue's figure is the service's, from outside: events published first, then the service
started; the rate is taken between the first poll of `coverage` that sees a row (the first
batch committed) and the first that sees all N, so that the group join (~5 s on tansu) is
not counted. The floor is one aiokafka consumer reading the same records (partitions assigned,
no group, no commits) twice: once taking them only, once also turning each into a `Message`
and reading it with the ledger's reader (`usecases.billing.read_record`, pydantic's
validation of the fields the ledger records). Nothing any ledger of this stack must do is left
out of the second floor but the database, so the service cannot be faster than it.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from jamsos import bootstrap
from jamsos.adapters import bench as bench_db
from jamsos.adapters.kafka import client_security, inbound
from jamsos.bench.billing import enrolled_events
from jamsos.bench.pipeline import services
from jamsos.publishing import publish_raw
from jamsos.settings import Settings
from jamsos.usecases.billing import read_record
from jamsos_schemas import topics

POLL_SECONDS = 0.1  # a count of 200,000 rows costs PostgreSQL a few ms: not much more often
TICK = os.sysconf("SC_CLK_TCK")


class TooFewToTime(Exception):
    """The service took every event before a poll could see it part-way."""


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU so far, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


async def floor(settings: Settings, n: int, read: bool) -> dict[str, float]:
    """Events/s and this process's CPU per event for one consumer taking the topic's N records
    from the first batch on (with `read`: each also read as the ledger reads it)."""
    assert settings.kafka_bootstrap is not None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        **client_security(settings.kafka_security),
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topics.ENROLLED, p) for p in range(settings.partitions)])
        await consumer.seek_to_beginning()
        seen, first = 0, None
        while seen < n:
            batches = await consumer.getmany(
                timeout_ms=1000, max_records=settings.ledger_batch_size
            )
            if first is None and batches:
                first = (time.perf_counter(), time.process_time(), seen)
            for records in batches.values():
                seen += len(records)
                if read:
                    for message in inbound(records):
                        read_record(message)
        assert first is not None
        seconds, cpu = time.perf_counter() - first[0], time.process_time() - first[1]
        return {"events_per_s": round(n / seconds, 1), "us_per_event": round(cpu / n * 1e6, 2)}
    finally:
        await consumer.stop()


async def through_service(settings: Settings, n: int, workdir: Path) -> dict[str, Any]:
    """Start `jamsos run billing` on the topic's N events; its rate and CPU per event between
    the first poll that sees a coverage row and the first that sees all N."""
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with services(settings, workdir, names=("billing",)) as running:
            pid = running.procs["billing"].pid
            deadline = time.monotonic() + max(180.0, n / 1_000)
            first: tuple[float, int, float] | None = None
            while True:
                count = await bench_db.coverage_rows(conn)
                now, cpu = time.perf_counter(), cpu_seconds(pid)
                if first is None and count > 0:
                    first = (now, count, cpu)
                if first is not None and count >= n:
                    break
                if running.procs["billing"].poll() is not None:
                    raise RuntimeError(f"jamsos run billing exited: see {workdir}/billing.log")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{count:,} of {n:,} coverage rows after the deadline")
                await asyncio.sleep(POLL_SECONDS)
            rss = running.peak_rss_mb()["billing"]
    finally:
        await conn.close()
    started, counted, cpu_before = first
    events, seconds = n - counted, now - started
    if events <= 0 or seconds <= 0:
        raise TooFewToTime(
            f"`jamsos run billing` took all {n:,} events between two polls"
            f" ({POLL_SECONDS} s apart): too few to time; give --events more of them"
        )
    return {
        "window_events": events,
        "window_seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1),
        "us_per_event": round((cpu - cpu_before) / events * 1e6, 2),
        "peak_rss_mb": rss,
    }


async def run(settings: Settings, n: int, workdir: Path) -> dict[str, Any]:
    """The floor and the service on `settings`' broker and (recreated) database."""
    settings = replace(settings, group_prefix="jamsos-bench-intake")
    await bootstrap.prepare(settings, fresh_database=True)
    messages = [(m.key, m.value) for m in enrolled_events(0, n)]
    await publish_raw(settings, topics.ENROLLED, messages)
    del messages
    taken = await floor(settings, n, read=False)
    read = await floor(settings, n, read=True)
    service = await through_service(settings, n, workdir)
    return {
        "events": n,
        "ledger_batch_size": settings.ledger_batch_size,
        "floor_consume": taken,
        "floor_consume_and_read": read,
        "service": service,
        "ratio": round(service["events_per_s"] / read["events_per_s"], 4),
    }
