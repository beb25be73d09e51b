"""The billing ledger's intake through the real consumer: `jamsos run billing` reading
`participant.enrolled` from the broker (README "Ledger intake", "The real consumer").

Starts tansu (and the embedded PostgreSQL, unless --database-url names a server), makes a
fresh database, publishes N enrolled events (`jamsos.bench.billing.enrolled_events`) with
aiokafka first, then starts `jamsos run billing` and polls `SELECT count(*) FROM coverage`
until it holds all N (with a deadline). The figures are taken between the first poll that
sees a coverage row and the first that sees all N: events/s over that window, the billing
process's CPU (utime + stime from /proc) per event in it.
One JSON line per run on stdout.

    .venv/bin/python scripts/consumer_intake.py --n 200000 [--runs 2]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Run it with another checkout's code on PYTHONPATH (`PYTHONPATH=$OTHER/services:$OTHER/schemas`)
to measure that commit with the same script; the `commit` field says which code ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg

import jamsos
from jamsos import bootstrap
from jamsos.adapters import bench as bench_db
from jamsos.bench.billing import enrolled_events
from jamsos.publishing import publish_raw
from jamsos.settings import Settings, child_environment, load_settings
from jamsos_schemas import topics

POLL_SECONDS = 0.1  # a count of 200,000 rows costs PostgreSQL a few ms: not much more often
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def commit_of_code() -> str:
    """The commit of the checkout whose `jamsos` package this process imported."""
    where = Path(jamsos.__file__).resolve().parent
    head = subprocess.run(
        ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return head + ("+dirty" if dirty else "")


def start_billing(settings: Settings, workdir: Path) -> subprocess.Popen[bytes]:
    env = child_environment(
        JAMSOS_KAFKA_BOOTSTRAP=settings.kafka_bootstrap or "",
        JAMSOS_DATABASE_URL=settings.database_url or "",
        JAMSOS_GROUP_PREFIX=settings.group_prefix,
        JAMSOS_HTTP_PORT="0",
        JAMSOS_STATE_DIR=str(workdir),
        COLUMNS="200",
    )
    with (workdir / "billing.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "jamsos", "run", "billing"],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def start_spy(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling process `pid` (not its idle time) until it exits, into `output`."""
    spy = str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def measure(
    settings: Settings, n: int, workdir: Path, profile: Path | None = None
) -> dict[str, Any]:
    """One run on `settings`' broker and (recreated) database; with `profile`, py-spy samples
    the billing process (`--idle` excluded) into that file (raw, collapsed stacks)."""
    await bootstrap.prepare(settings, fresh_database=True)
    messages = [(m.key, m.value) for m in enrolled_events(0, n)]
    started = time.perf_counter()
    await publish_raw(settings, topics.ENROLLED, messages)
    publish_seconds = time.perf_counter() - started
    del messages
    assert settings.database_url is not None
    conn = await asyncpg.connect(settings.database_url)
    proc = start_billing(settings, workdir)
    spy = None if profile is None else start_spy(proc.pid, profile)
    try:
        deadline = time.monotonic() + max(180.0, n / 1_000)
        first: tuple[float, int, float] | None = None
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jamsos run billing exited: see {workdir / 'billing.log'}")
            count: int = await conn.fetchval("SELECT count(*) FROM coverage")
            now, cpu = time.perf_counter(), cpu_seconds(proc.pid)
            if first is None and count > 0:
                first = (now, count, cpu)
            if first is not None and count >= n:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count:,} of {n:,} coverage rows after the deadline")
            await asyncio.sleep(POLL_SECONDS)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if spy is not None:
            spy.wait(timeout=60)
        await conn.close()
    assert first is not None
    t1, c1, cpu1 = first
    events = n - c1
    seconds = now - t1
    return {
        "commit": commit_of_code(),
        "n": n,
        "ledger_batch_size": settings.ledger_batch_size,
        "publish_seconds": round(publish_seconds, 2),
        "window_events": events,
        "window_seconds": round(seconds, 3),
        "events_per_s": round(events / seconds, 1),
        "service_us_per_event": round((cpu - cpu1) / events * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--database-url", default=None, help="a server's DSN (else embedded)")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy raw output file")
    args = parser.parse_args()
    settings = replace(load_settings(), kafka_bootstrap=None, group_prefix="jamsos-intake")
    if args.database_url:
        settings = replace(settings, database_url=args.database_url)
    name = f"jamsos_intake_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="jamsos-intake-") as tmp:
        for run in range(args.runs):
            # a fresh broker each run: the topic holds exactly this run's events
            state = Path(tmp) / f"state-{run}"
            with bootstrap.infrastructure(
                replace(settings, state_dir=state), database=name
            ) as ready:
                assert ready.database_url is not None
                load = os.getloadavg()
                try:
                    doc = asyncio.run(measure(ready, args.n, Path(tmp), args.profile))
                finally:
                    admin = bootstrap.with_database(ready.database_url, "postgres")
                    asyncio.run(bench_db.drop_database(admin, name))
                doc["load_before"] = [round(x, 2) for x in load]
                doc["load_after"] = [round(x, 2) for x in os.getloadavg()]
                print(json.dumps(doc), flush=True)


if __name__ == "__main__":
    main()
