"""What `jamsos bench` measures with: the raw Kafka round trip (the baseline), the pipeline's
outcome read-outs, and the billing ledger it loads (the benchmark's own Kafka and SQL)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from jamsos.adapters.kafka import FETCH_MAX_BYTES, client_security, create_topics, make_producer
from jamsos.settings import Settings
from jamsos_schemas import topics

OUTCOME_TOPICS = (topics.ENROLLED, topics.DUPLICATE, topics.REJECTED, topics.REVIEW_REQUIRED)


async def round_trip(
    settings: Settings, topic: str, messages: Sequence[tuple[bytes | None, bytes]]
) -> float:
    """Seconds from the first send of `messages` on a fresh `topic` (created here, same
    partition count as the services' topics) until a consumer has read the last of them."""
    assert settings.kafka_bootstrap is not None
    security = client_security(settings.kafka_security)
    await create_topics(
        settings.kafka_bootstrap,
        [topic],
        settings.partitions,
        settings.replication_factor,
        security=security,
    )
    consumer = AIOKafkaConsumer(  # fetching as the services' consumers do
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_MAX_BYTES,
        **security,
    )
    producer = make_producer(settings, "jamsos-bench-baseline")
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.partitions)])
        await consumer.seek_to_beginning()

        async def consume() -> float:
            seen = 0
            while seen < len(messages):
                batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
                seen += sum(len(records) for records in batches.values())
            return time.perf_counter()

        reader = asyncio.create_task(consume())
        started = time.perf_counter()
        pending = [await producer.send(topic, value, key=key) for key, value in messages]
        await asyncio.gather(*pending)
        return await asyncio.wait_for(reader, timeout=600) - started
    finally:
        await producer.stop()
        await consumer.stop()


@dataclass(frozen=True)
class Settled:
    """How far the pipeline is: decided submissions, unpublished outbox rows, ledger rows."""

    decided: int
    unpublished: int
    covered: int


async def any_in_flight(pool: asyncpg.Pool) -> bool:
    """Whether a submission is not decided yet or an outbox row waits to be published: the
    first row of either partial index answers it. The benchmark polls this while the
    pipeline runs, and every poll's CPU is taken from the services it measures. Counting
    them took a few ms at 31,000 submissions, but 280 ms a poll with a backlog of 1.25M
    (12,600 blocks read; pg_stat_statements, PostgreSQL 15, 3 December)."""
    found: bool = await pool.fetchval(
        """
        SELECT EXISTS (SELECT FROM submissions WHERE status = 'RECEIVED')
            OR EXISTS (SELECT FROM outbox WHERE published_at IS NULL AND failed_at IS NULL)
        """
    )
    return found


async def settled(pool: asyncpg.Pool) -> Settled:
    row = await pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM submissions WHERE status <> 'RECEIVED') AS decided,
               (SELECT count(*) FROM outbox WHERE published_at IS NULL) AS unpublished,
               (SELECT count(*) FROM coverage) AS covered
        """
    )
    assert row is not None
    return Settled(row["decided"], row["unpublished"], row["covered"])


async def outcome_counts(pool: asyncpg.Pool) -> dict[str, int]:
    """Submissions per status, and outcome events published per topic (`topic:<name>`)."""
    rows = await pool.fetch("SELECT status, count(*)::int AS n FROM submissions GROUP BY status")
    counts = {r["status"]: r["n"] for r in rows}
    events = await pool.fetch(
        "SELECT topic, count(*)::int AS n FROM outbox WHERE topic = ANY($1::text[]) GROUP BY topic",
        list(OUTCOME_TOPICS),
    )
    counts |= {f"topic:{r['topic']}": r["n"] for r in events}
    return counts


async def latencies(pool: asyncpg.Pool) -> dict[str, Any]:
    """Per submission, from its `submitted_at` (stamped as it was sent) to the publication of
    its outcome event: p50, p99, max; and the span from the first submission to the last
    outcome published (seconds)."""
    row = await pool.fetchrow(
        """
        WITH o AS (
            SELECT convert_from(value, 'UTF8')::jsonb AS v, published_at
            FROM outbox WHERE topic = ANY($1::text[])
        ), l AS (
            SELECT o.published_at, (s.payload->>'submitted_at')::timestamptz AS submitted,
                   extract(epoch FROM o.published_at
                           - (s.payload->>'submitted_at')::timestamptz) AS seconds
            FROM o JOIN submissions s
              ON s.agency_code = o.v->>'agency_code' AND s.submission_id = o.v->>'submission_id'
        )
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY seconds) AS p99,
               max(seconds) AS worst,
               extract(epoch FROM max(published_at) - min(submitted)) AS span
        FROM l
        """,
        list(OUTCOME_TOPICS),
    )
    assert row is not None
    return {k: float(row[k] or 0.0) for k in ("p50", "p99", "worst", "span")}


# --- billing ---------------------------------------------------------------------------------

COVERAGE_COLUMNS = [
    "membership_no",
    "coverage_start",
    "nik",
    "agency_code",
    "payer_code",
    "funding_source",
    "enrolled_at",
]


async def load_coverage(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """COPY complete coverage rows (COVERAGE_COLUMNS) into the billing ledger, then leave it
    as a ledger written over a month would be when the month is billed: vacuumed (hint bits
    set, statistics current) and checkpointed. Without this the first run pays for the load:
    it sets the hint bit of every row it reads (dirtying the whole table through 128 MB of
    shared buffers) and runs into the checkpoint the load's WAL forces (8.5 s instead of
    6.6 s for 1,000,000 rows, quiet machine). CHECKPOINT needs a superuser or pg_checkpoint;
    without that right the bench goes on without it."""
    await conn.copy_records_to_table("coverage", records=rows, columns=COVERAGE_COLUMNS)
    await conn.execute("VACUUM (ANALYZE) coverage")
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await conn.execute("CHECKPOINT")


async def empty_ledger(pool: asyncpg.Pool) -> int:
    """Empty the billing ledger and its inbox (after the intake benchmark); returns how many
    coverage rows it held."""
    covered: int = await pool.fetchval("SELECT count(*) FROM coverage")
    await pool.execute("TRUNCATE coverage, ledger_events")
    return covered


async def terminate_first(
    conn: asyncpg.Connection, count: int, ended_on: dt.date, at: dt.datetime
) -> None:
    """Terminate the first `count` memberships of the ledger, coverage ending on `ended_on`."""
    await conn.execute(
        "UPDATE coverage SET terminated_at = $1, ended_on = $2"
        " WHERE membership_no IN (SELECT membership_no FROM coverage"
        " ORDER BY membership_no LIMIT $3)",
        at,
        ended_on,
        count,
    )


async def drop_database(admin_dsn: str, name: str) -> None:
    """Drop the benchmark's database (forcing connections off)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {name!r}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
