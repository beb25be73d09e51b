"""End-to-end registration throughput: publish N submissions, time until every outcome is
decided and published. Real tansu broker and PostgreSQL; prints numbers, asserts nothing.

    .venv/bin/python bench/bench_pipeline.py [N] [--processes]     (default 20,000)

`--processes` runs registration and verification as two `jamsos run` processes (one per core)
instead of both in this process.

PostgreSQL: JAMSOS_BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/postgres; the
benchmark creates and drops its own database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg

from jamsos import bootstrap, synthetic
from jamsos.adapters.db import recreate_database
from jamsos.adapters.embedded import embedded_broker
from jamsos.publishing import publish_submissions
from jamsos.settings import Settings, load_settings
from jamsos.workers.runtime import jakarta_now

ADMIN = os.environ.get("JAMSOS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def cohort(size: int) -> list[dict[str, object]]:
    rng = random.Random(11)
    today, now = jakarta_now().date(), jakarta_now()
    agencies = ["DISDAG", "DISHUB", "BPBD", "DINSOS", "DISNAKERPERINKOP", "DISPERTANPANGAN"]
    out = []
    for i in range(size):
        person = synthetic.worker(rng, i, today)
        birth = dt.date.fromisoformat(person["birth_date"])
        district = f"3319{1 + i // 9999:02d}"
        person["nik"] = synthetic.nik_for(birth, person["sex"], 1 + i % 9999, district)
        out.append(synthetic.submission(agencies[i % 6], f"BENCH-{i:07d}", person, now))
    return out


@contextlib.asynccontextmanager
async def running(settings: Settings, processes: bool) -> AsyncIterator[asyncio.Event]:
    """Registration and verification, in this process or as two `jamsos run` processes; the
    event is set once their consumers are assigned."""
    ready = asyncio.Event()
    if not processes:
        app, broker = bootstrap.build_app(settings, ["registration", "verification"])
        await app.start()
        try:
            await bootstrap.wait_assigned(broker)
            ready.set()
            yield ready
        finally:
            await app.stop()
        return
    env = {
        **os.environ,
        "JAMSOS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "JAMSOS_DATABASE_URL": settings.database_url or "",
        "JAMSOS_GROUP_PREFIX": "bench",
        "JAMSOS_HTTP_PORT": "0",
    }
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is measured
            [sys.executable, "-m", "jamsos", "run", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        for name in ("registration", "verification")
    ]
    try:
        for proc in procs:  # `jamsos run` prints "running" once its consumers are assigned
            assert proc.stdout is not None
            line = await asyncio.to_thread(proc.stdout.readline)
            assert b"running" in line, line
        ready.set()
        yield ready
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


async def main(size: int, processes: bool) -> None:
    name = "jamsos_bench"
    await recreate_database(ADMIN, name)
    dsn = bootstrap.with_database(ADMIN, name)
    with tempfile.TemporaryDirectory() as tmp, embedded_broker(Path(tmp)) as kafka:
        settings = replace(
            load_settings(env={}),
            kafka_bootstrap=kafka,
            database_url=dsn,
            state_dir=Path(tmp),
            group_prefix="bench",
        )
        settings = replace(settings, policy=replace(settings.policy, ceiling=10_000_000))
        await bootstrap.prepare(settings)
        payloads = cohort(size)
        t0 = time.perf_counter()
        await publish_submissions(settings, payloads)
        published = time.perf_counter() - t0
        pool = await asyncpg.create_pool(dsn)
        async with running(settings, processes) as ready:
            await ready.wait()
            t1 = time.perf_counter()
            while True:
                row = await pool.fetchrow(
                    "SELECT (SELECT count(*) FROM submissions WHERE status <> 'RECEIVED') AS d,"
                    " (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS u"
                )
                assert row is not None
                if row["d"] == size and row["u"] == 0:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t1
            enrolled = await pool.fetchval("SELECT count(*) FROM participants")
        await pool.close()
    conn = await asyncpg.connect(ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()
    print(f"mode                      {'two processes' if processes else 'one process':>10}")
    print(f"submissions               {size:>10,}")
    print(f"published to broker       {published:>10.2f} s  ({size / published:,.0f} msg/s)")
    print(f"decided + outcomes out    {elapsed:>10.2f} s  ({size / elapsed:,.0f} submissions/s)")
    print(f"enrolled                  {enrolled:>10,}")
    print(f"vs. 3,000/s target        {size / elapsed / 3000:>10.2f}x")


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    asyncio.run(main(int(numbers[0]) if numbers else 20_000, "--processes" in sys.argv))
