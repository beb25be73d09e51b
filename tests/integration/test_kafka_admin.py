"""Topic offsets and consumer lag on the real broker (tansu), as `jamsos ops topics|lag` show."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pty
import select
import signal
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from jamsos.adapters.kafka_admin import consumer_lag, topic_offsets
from jamsos.bootstrap import consumer_groups
from jamsos.publishing import publish_submissions
from jamsos.settings import Settings
from jamsos_schemas import topics
from tests.conftest import clean_env, running, wait_until
from tests.integration.billing_support import JAN_20, cli_env, workers

TOPIC = topics.REVIEW_DECIDED  # any topic no service of these tests consumes


async def produce_batches(bootstrap: str, topic: str, sizes: dict[int, list[int]]) -> None:
    """Produce, per partition, one record batch of each size (multi-record batches)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, batch_sizes in sizes.items():
            for n, size in enumerate(batch_sizes):
                batch = producer.create_batch()
                for i in range(size):
                    batch.append(key=None, value=f"{n}-{i}".encode(), timestamp=None)
                await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()


async def read_to_the_end(bootstrap: str, topic: str, produced: int) -> dict[int, list[int]]:
    """Offsets of every record a plain consumer reads from the beginning (no end offset is
    trusted): until `produced` records have come (a deadline, however slow a loaded broker
    is to answer), and then for another second, for any record beyond them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        seen: dict[int, list[int]] = {tp.partition: [] for tp in parts}

        async def fetch(timeout_ms: int) -> int:
            batch = await consumer.getmany(timeout_ms=timeout_ms)
            for tp, records in batch.items():
                seen[tp.partition] += [r.offset for r in records]
            return sum(map(len, batch.values()))

        async def all_come() -> bool:
            await fetch(300)
            return sum(map(len, seen.values())) >= produced

        await wait_until(all_come, what=f"{produced} records on {topic}")
        while await fetch(1000):  # and none beyond them
            pass
        return seen
    finally:
        await consumer.stop()


async def naive_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.topics()
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()


async def test_topic_offsets_multi_record_batches_end_where_a_consumer_stops_reading(
    kafka_bootstrap: str,
) -> None:
    await produce_batches(kafka_bootstrap, TOPIC, {0: [4, 3], 1: [1], 2: [5, 1, 6]})

    [offsets] = await topic_offsets(kafka_bootstrap, [TOPIC])
    read = await read_to_the_end(kafka_bootstrap, TOPIC, produced=20)

    assert read == {0: list(range(7)), 1: [0], 2: list(range(12))}
    assert {p.partition: (p.start_offset, p.end_offset) for p in offsets.partitions} == {
        part: (0, len(seen)) for part, seen in read.items()
    }
    assert offsets.messages == 20
    # What ListOffsets(latest) answers on tansu: the last batch's base + 1. This is what the
    # module corrects; the assertion shows the test really has multi-record batches.
    assert await naive_end_offsets(kafka_bootstrap, TOPIC) == {0: 5, 1: 1, 2: 7}


async def test_topic_offsets_unknown_topic_is_listed_without_partitions(
    kafka_bootstrap: str,
) -> None:
    [offsets] = await topic_offsets(kafka_bootstrap, ["jamsos.nowhere.v1"])

    assert (offsets.exists, offsets.partitions, offsets.messages) == (False, [], 0)


def lag_of(rows: list[Any], group: str) -> dict[int, tuple[int | None, int, int]]:
    return {r.partition: (r.committed, r.end_offset, r.lag) for r in rows if r.group == group}


async def test_consumer_lag_of_registration_group_before_and_after_it_consumes(
    settings: Settings,
) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    groups = consumer_groups(settings)
    group = f"{settings.group_prefix}.registration"
    assert groups[group] == [topics.SUBMITTED]
    payloads = workers({"DISDAG": 15, "DISHUB": 10}, JAN_20)
    await publish_submissions(settings, payloads)  # lingering producer: multi-record batches
    [submitted] = await topic_offsets(bootstrap, [topics.SUBMITTED])
    ends = {p.partition: p.end_offset for p in submitted.partitions}
    assert sum(ends.values()) == len(payloads)

    before = await consumer_lag(bootstrap, groups, prefix=settings.group_prefix)

    assert lag_of(before, group) == {p: (None, end, end) for p, end in ends.items()}
    async with running(settings, ["registration"]):

        async def caught_up() -> bool:
            rows = await consumer_lag(bootstrap, groups)
            return all(r.lag == 0 and r.committed is not None for r in rows if r.group == group)

        await wait_until(caught_up, what="the registration group to commit everything")
    after = await consumer_lag(bootstrap, groups, prefix=settings.group_prefix)

    assert lag_of(after, group) == {p: (end, end, 0) for p, end in ends.items()}
    # the registration group's output is waiting for verification, which is not running
    accepted = lag_of(after, f"{settings.group_prefix}.verification")
    assert all(committed is None for committed, _, _ in accepted.values())
    assert sum(lag for _, _, lag in accepted.values()) == len(payloads)


def _env(settings: Settings) -> dict[str, str]:
    """clean_env (no inherited JAMSOS_*, width pinned) pointing at this test's broker and
    database."""
    configured = {k: v for k, v in cli_env(settings).items() if v is not None}
    return clean_env(**configured, JAMSOS_GROUP_PREFIX=settings.group_prefix)


async def jamsos(settings: Settings, *args: str) -> tuple[int, bytes, bytes]:
    """Run the `jamsos` CLI as a process; (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jamsos",
        *args,
        env=_env(settings),
        cwd=settings.state_dir,  # no developer's ./jamsos.yaml
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out, err


async def test_ops_topics_json_lists_every_topic_in_the_contract_shape(
    settings: Settings,
) -> None:
    await produce_batches(settings.kafka_bootstrap or "", TOPIC, {1: [3, 2]})

    code, out, err = await jamsos(settings, "ops", "topics", "--json")

    assert code == 0, err.decode()
    document = json.loads(out)
    assert [t["topic"] for t in document] == list(topics.ALL_TOPICS)
    for entry in document:
        assert set(entry) == {"topic", "partitions", "messages"}
        assert [p["partition"] for p in entry["partitions"]] == [0, 1, 2]
        for p in entry["partitions"]:
            assert set(p) == {"partition", "start_offset", "end_offset"}
    [decided] = [t for t in document if t["topic"] == TOPIC]
    assert decided["messages"] == 5
    assert decided["partitions"][1] == {"partition": 1, "start_offset": 0, "end_offset": 5}


async def test_ops_lag_json_has_a_row_per_group_and_partition_in_the_contract_shape(
    settings: Settings,
) -> None:
    await publish_submissions(settings, workers({"DISDAG": 4}, JAN_20))

    code, out, err = await jamsos(settings, "ops", "lag", "--json")

    assert code == 0, err.decode()
    document = json.loads(out)
    expected = {
        (group, topic, partition)
        for group, names in consumer_groups(settings).items()
        for topic in names
        for partition in range(3)
    }
    assert {(r["group"], r["topic"], r["partition"]) for r in document} == expected
    for row in document:
        assert set(row) == {"group", "topic", "partition", "committed", "end_offset", "lag"}
        assert row["committed"] is None
        assert row["lag"] == row["end_offset"]
    assert sum(r["lag"] for r in document if r["topic"] == topics.SUBMITTED) == 4


async def test_ops_lag_watch_refreshes_on_a_terminal_and_ctrl_c_exits_cleanly(
    settings: Settings,
) -> None:
    await publish_submissions(settings, workers({"DISDAG": 3}, JAN_20))
    env = {**_env(settings), "TERM": "xterm"}
    main, terminal = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jamsos",
        "ops",
        "lag",
        "--watch",
        env=env,
        cwd=settings.state_dir,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    screen = bytearray()

    def read_until(marker: bytes, times: int) -> None:
        while screen.count(marker) < times:
            ready, _, _ = select.select([main], [], [], 30)
            assert ready, f"no output; so far: {screen.decode(errors='replace')}"
            screen.extend(os.read(main, 65536))

    try:
        # two renders of the table: the first one, and a refresh in place
        await asyncio.to_thread(read_until, b"Consumer lag", 2)
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 30)
        with contextlib.suppress(OSError):  # the terminal closes with the process
            await asyncio.to_thread(read_until, b"\0never", 1)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        os.close(main)

    text = screen.decode(errors="replace")
    assert code == 0, text
    assert "Traceback" not in text
    assert f"{settings.group_prefix}.registration" in text
