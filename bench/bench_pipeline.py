"""End-to-end registration throughput: publish N submissions, time until every outcome is
decided and published. Real tansu broker and PostgreSQL; prints numbers, asserts nothing.

    .venv/bin/python bench/bench_pipeline.py [N]        (default 20,000)

PostgreSQL: JAMSOS_BENCH_DATABASE_URL or postgresql://postgres@127.0.0.1:5432/postgres; the
benchmark creates and drops its own database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import asyncpg

from jamsos import bootstrap, synthetic
from jamsos.adapters.db import recreate_database
from jamsos.adapters.embedded import embedded_broker
from jamsos.publishing import publish_submissions
from jamsos.settings import load_settings
from jamsos.workers.runtime import Runtime, jakarta_now

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


async def main(size: int) -> None:
    name = "jamsos_bench"
    await recreate_database(ADMIN, name)
    dsn = bootstrap.with_database(ADMIN, name)
    with tempfile.TemporaryDirectory() as tmp, embedded_broker(Path(tmp)) as kafka:
        settings = replace(load_settings(env={}), kafka_bootstrap=kafka, database_url=dsn,
                           state_dir=Path(tmp), group_prefix="bench")
        settings = replace(settings, policy=replace(settings.policy, ceiling=10_000_000))
        await bootstrap.prepare(settings)
        payloads = cohort(size)
        t0 = time.perf_counter()
        await publish_submissions(settings, payloads)
        published = time.perf_counter() - t0
        runtime = Runtime(settings)
        app, broker = bootstrap.build_app(settings, ["registration", "verification"], runtime)
        await app.start()
        try:
            await bootstrap.wait_assigned(broker)
            t1 = time.perf_counter()
            while True:
                row = await runtime.pool.fetchrow(
                    "SELECT (SELECT count(*) FROM submissions WHERE status <> 'RECEIVED') AS d,"
                    " (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS u"
                )
                assert row is not None
                if row["d"] == size and row["u"] == 0:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t1
            enrolled = await runtime.pool.fetchval("SELECT count(*) FROM participants")
        finally:
            await app.stop()
    conn = await asyncpg.connect(ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()
    print(f"submissions               {size:>10,}")
    print(f"published to broker       {published:>10.2f} s  ({size / published:,.0f} msg/s)")
    print(f"decided + outcomes out    {elapsed:>10.2f} s  ({size / elapsed:,.0f} submissions/s)")
    print(f"enrolled                  {enrolled:>10,}")
    print(f"vs. 3,000/s target        {size / elapsed / 3000:>10.2f}x")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
