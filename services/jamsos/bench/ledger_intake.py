"""The billing ledger's intake through the service: `jamsos run billing` taking N
`participant.enrolled` events from the broker into `coverage`, against what reading them
costs without any database on the same broker (the floor), in one run.

The issue's figure is the service's, from outside: events published first, then the service
started. The rate is taken from the service's own batch lines (`batch consumer=billing-ledger
records=…`, logged right after each batch's commit, at millisecond resolution): from the
first batch's line to the last one's, the events after the first batch, so that the group
join (~5 s on tansu) is not counted. The benchmark reads that log, not the database, while the
service runs: a `count(*)` of `coverage` every 0.1 s took PostgreSQL 11-19 ms each at 200,000
rows, CPU taken from the service measured. The service's CPU (user + system, /proc, 10 ms
ticks) is read when its first batch lines appear and when its last does, and divided by the
events committed in between; so is the whole machine's (`/proc/stat`: every process on every
core, PostgreSQL, the broker and this benchmark included; a container's host). The
machine's CPU per event, and how many cores were busy in the window, say how much more the
cores allow: at M µs of CPU an event, C cores busy all the time would take about C / M events
a second (`ceiling_events_per_s`), however well the processes overlapped. When the window
keeps nearly all C busy, the intake is bound by the machine's CPU, not by waiting. All three
are None when the window is too short for a CPU reading (10 ms ticks).

The floor is one aiokafka consumer reading the same records (partitions assigned, no group,
no commits) twice: once taking them only, once also turning each into a `Message` and reading
it with the ledger's reader (`usecases.billing.read_record`, pydantic's validation of the
fields the ledger records), timed, like the service, from its first batch on. Nothing any
ledger of this stack must do is left out of the second floor but the database, so the
service cannot be faster than it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from jamsos import bootstrap
from jamsos.adapters.kafka import FETCH_MAX_BYTES, client_security, inbound
from jamsos.bench.billing import enrolled_events
from jamsos.bench.pipeline import BenchFailed, log_tail, services
from jamsos.publishing import publish_raw
from jamsos.settings import Settings
from jamsos.usecases.billing import LEDGER, read_record
from jamsos_schemas import topics

POLL_SECONDS = 0.05  # reading the service's new log lines: no database work
TICK = os.sysconf("SC_CLK_TCK")
# adapters/logs.FORMAT's time, then workers/runtime's line for each committed batch
_BATCH = re.compile(
    rb"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO \S+ batch consumer="
    + LEDGER.encode()
    + rb" records=(\d+) ",
    re.MULTILINE,
)


class TooFewToTime(BenchFailed):
    """The service took every event in its first batch: there is no window to time."""


def machine_cpu_seconds() -> float:
    """The CPU time every process on this machine has used so far, all cores together (the
    first line of /proc/stat less idle, I/O wait and steal)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, _steal = ticks
    return (user + nice + system + irq + softirq) / TICK


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU so far, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


async def floor(settings: Settings, n: int, read: bool) -> dict[str, float]:
    """Events/s and this process's CPU per event for one consumer taking the topic's N records,
    timed after its first batch (with `read`: each also read as the ledger reads it)."""
    assert settings.kafka_bootstrap is not None
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_MAX_BYTES,  # as the service's consumers fetch
        **client_security(settings.kafka_security),
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topics.ENROLLED, p) for p in range(settings.partitions)])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + max(120.0, n / 1_000)
        seen, first = 0, None
        while seen < n:
            if time.monotonic() > deadline:
                raise BenchFailed(f"the floor's consumer read {seen:,} of {n:,} events in time")
            batches = await consumer.getmany(
                timeout_ms=1000, max_records=settings.ledger_batch_size
            )
            for records in batches.values():
                seen += len(records)
                if read:
                    for message in inbound(records):
                        read_record(message)
            if first is None and seen:
                first = (time.perf_counter(), time.process_time(), seen)
        assert first is not None
        events = n - first[2]
        if events <= 0:
            raise TooFewToTime(_too_few(n, settings))
        seconds, cpu = time.perf_counter() - first[0], time.process_time() - first[1]
        return {
            "events_per_s": round(events / seconds, 1),
            "us_per_event": round(cpu / events * 1e6, 2),
        }
    finally:
        await consumer.stop()


def _too_few(n: int, settings: Settings) -> str:
    return (
        f"all {n:,} events came in one batch (JAMSOS_LEDGER_BATCH_SIZE="
        f"{settings.ledger_batch_size:,}): too few to time; give --events more of them"
    )


@dataclass
class _Batches:
    """The service's committed batches seen in its log so far."""

    first_at: dt.datetime | None = None
    first_records: int = 0
    last_at: dt.datetime | None = None
    records: int = 0
    read_to: int = 0

    def read(self, log: Path) -> bool:
        """Take the batch lines written since the last call; True if there were any."""
        with log.open("rb") as f:
            f.seek(self.read_to)
            text = f.read()
        end = text.rfind(b"\n") + 1  # a line still being written is read next time
        self.read_to += end
        found = False
        for match in _BATCH.finditer(text[:end]):
            at = dt.datetime.strptime(match[1].decode(), "%Y-%m-%d %H:%M:%S,%f")
            if self.first_at is None:
                self.first_at, self.first_records = at, int(match[2])
            self.last_at, found = at, True
            self.records += int(match[2])
        return found


async def through_service(settings: Settings, n: int, workdir: Path) -> dict[str, Any]:
    """Start `jamsos run billing` on the topic's N events; its rate and CPU per event from its
    first committed batch to its last (module docstring)."""
    async with services(settings, workdir, names=("billing",)) as running:
        proc, log = running.procs["billing"], workdir / "billing.log"
        deadline = time.monotonic() + max(180.0, n / 1_000)
        seen = _Batches()
        # at each poll that saw batch lines: service CPU, machine CPU, wall clock, records
        first: tuple[float, float, float, int] | None = None
        last = (0.0, 0.0, 0.0, 0)
        while seen.records < n:
            if seen.read(log):
                last = (
                    cpu_seconds(proc.pid),
                    machine_cpu_seconds(),
                    time.monotonic(),
                    seen.records,
                )
                first = first or last
            elif proc.poll() is not None:
                raise BenchFailed(f"`jamsos run billing` exited; its log ends:\n{log_tail(log)}")
            elif time.monotonic() > deadline:
                raise BenchFailed(
                    f"`jamsos run billing` committed {seen.records:,} of {n:,} events in time;"
                    f" its log ends:\n{log_tail(log)}"
                )
            await asyncio.sleep(POLL_SECONDS)
        rss = running.peak_rss_mb()["billing"]
    assert seen.first_at is not None and seen.last_at is not None and first is not None
    events = seen.records - seen.first_records
    seconds = (seen.last_at - seen.first_at).total_seconds()
    if events <= 0 or seconds <= 0:
        raise TooFewToTime(_too_few(n, settings))
    # CPU is read at polls: per event committed between the first poll that saw batches and
    # the last (the batches of the first poll ran before its reading)
    polled, machine, wall = last[3] - first[3], last[1] - first[1], last[2] - first[2]
    cores = len(os.sched_getaffinity(0))
    timed = polled > 0 and machine > 0 and wall > 0
    return {
        "window_events": events,
        "window_seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1),
        "us_per_event": round((last[0] - first[0]) / polled * 1e6, 2) if polled else 0.0,
        "machine_us_per_event": round(machine / polled * 1e6, 2) if timed else None,
        "cores": cores,
        "cores_busy": round(machine / wall, 2) if timed else None,
        "ceiling_events_per_s": round(cores / machine * polled, 1) if timed else None,
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
