"""Kafka read-only admin: topic offsets (true end offsets, also on tansu) and consumer lag.

Used by `jamsos ops topics`, `jamsos ops lag`, `ops health` and the lag gauges. It only reads:
no consumer here joins a group or commits.

End offsets. Kafka's ListOffsets(latest) answers the log end offset. tansu 0.6 answers the base
offset of the partition's last record batch + 1, which is short by the batch's size minus one
(7 records produced as batches of 4 and 3: records 0..6, tansu says 5). So the reported end `e`
is only trusted after reading from `e - 1`: on Kafka that is the last record (offset `e - 1`,
end `e`); on tansu it is the base of the last batch, and the fetch returns that whole batch,
whose last record + 1 is the true end. Either way the true end is
`max(e, last offset read + 1)`. A partition whose record at `e - 1` is not readable (a
transaction marker on Kafka) keeps `e` after a short wait.

Committed offsets. aiokafka's admin `list_consumer_group_offsets` closes the connection on
tansu, so committed offsets are read with `AIOKafkaConsumer.committed()` on a consumer that has
the group's id but never subscribes (so it never joins the group or disturbs its members).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

# How long to wait for the last records of the partitions whose end is being checked.
_END_READ_TIMEOUT_S = 3.0
# `security`: the aiokafka keyword arguments of `adapters.kafka.client_security` (SASL/TLS).
_PLAIN: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class PartitionOffsets:
    """One partition's first and next offsets (`end_offset - start_offset` records)."""

    partition: int
    start_offset: int
    end_offset: int


@dataclass(frozen=True)
class TopicOffsets:
    """A topic's partitions; `exists` is False when the broker does not know the topic."""

    topic: str
    partitions: list[PartitionOffsets]
    exists: bool = True

    @property
    def messages(self) -> int:
        """Records currently held (end minus start over the partitions)."""
        return sum(p.end_offset - p.start_offset for p in self.partitions)


@dataclass(frozen=True)
class LagRow:
    """One consumer group's position on one partition.

    `committed` is None before the group's first commit; `lag` then counts every record the
    partition holds (`end_offset - start_offset`), else `end_offset - committed`.
    """

    group: str
    topic: str
    partition: int
    committed: int | None
    end_offset: int
    lag: int


@contextlib.asynccontextmanager
async def _consumer(
    bootstrap: str, group_id: str | None = None, security: Mapping[str, Any] = _PLAIN
) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer that never commits, stopped at the end (also when start fails)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="jamsos-ops",
        **security,
    )
    try:
        await consumer.start()
        yield consumer
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> dict[str, list[int]]:
    """Partition numbers per topic; a topic the broker does not have is missing from the map."""
    known = await consumer.topics()  # refreshes the metadata
    result: dict[str, list[int]] = {}
    for topic in topics:
        if topic in known:
            result[topic] = sorted(consumer.partitions_for_topic(topic) or ())
    return result


async def true_end_offsets(
    consumer: AIOKafkaConsumer, parts: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The next offset to be written on each partition, read rather than trusted (see above).

    `consumer` must be started and have no group (it is assigned `parts` and moved around).
    """
    if not parts:
        return {}
    starts = await consumer.beginning_offsets(list(parts))
    ends: dict[TopicPartition, int] = dict(await consumer.end_offsets(list(parts)))
    check = [tp for tp in parts if ends[tp] > starts[tp]]
    if not check:
        return ends
    consumer.assign(check)
    for tp in check:
        consumer.seek(tp, ends[tp] - 1)
    pending = set(check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _END_READ_TIMEOUT_S
    while pending and loop.time() < deadline:
        batch = await consumer.getmany(*pending, timeout_ms=200)
        for tp, records in batch.items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
                pending.discard(tp)
                consumer.pause(tp)
    consumer.assign([])
    return ends


async def topic_offsets(
    bootstrap: str, topics: Sequence[str], security: Mapping[str, Any] = _PLAIN
) -> list[TopicOffsets]:
    """Start and true end offset of every partition of `topics`, in the order given."""
    async with _consumer(bootstrap, security=security) as consumer:
        partitions = await _partitions(consumer, topics)
        parts = [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
        starts = await consumer.beginning_offsets(parts) if parts else {}
        ends = await true_end_offsets(consumer, parts)
        return [
            TopicOffsets(
                topic,
                [
                    PartitionOffsets(
                        p, starts[TopicPartition(topic, p)], ends[TopicPartition(topic, p)]
                    )
                    for p in partitions.get(topic, [])
                ],
                exists=topic in partitions,
            )
            for topic in topics
        ]


async def list_groups(
    bootstrap: str, prefix: str, security: Mapping[str, Any] = _PLAIN
) -> list[str]:
    """Consumer groups on the broker whose id starts with `prefix` + "."."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="jamsos-ops", **security)
    try:
        await admin.start()
        listed = await admin.list_consumer_groups()
    finally:
        await admin.close()
    return sorted(g[0] for g in listed if str(g[0]).startswith(prefix + "."))


async def committed_offsets(
    bootstrap: str,
    group: str,
    parts: Sequence[TopicPartition],
    security: Mapping[str, Any] = _PLAIN,
) -> dict[TopicPartition, int | None]:
    """The group's committed offset per partition (None where it never committed).

    The consumer carries the group id only to ask for its offsets: it does not subscribe, so it
    never joins the group, and it never commits.
    """
    async with _consumer(bootstrap, group_id=group, security=security) as consumer:
        return {tp: await consumer.committed(tp) for tp in parts}


async def consumer_lag(
    bootstrap: str,
    groups: Mapping[str, Sequence[str]],
    prefix: str | None = None,
    security: Mapping[str, Any] = _PLAIN,
) -> list[LagRow]:
    """Committed offset, true end offset and lag of each group on each partition of its topics.

    `groups` maps each group id to the topics it consumes (jamsos's own subscribers, see
    `bootstrap.consumer_groups`). With `prefix`, groups on the broker named `prefix.*` that are
    not in `groups` are shown too, on whichever of the known topics they have committed on.
    Rows are ordered by group, topic and partition.
    """
    wanted: dict[str, list[str]] = {g: list(ts) for g, ts in groups.items()}
    extra: list[str] = []
    if prefix is not None:
        extra = [g for g in await list_groups(bootstrap, prefix, security) if g not in wanted]
    every_topic = sorted({t for ts in wanted.values() for t in ts})
    for group in extra:
        wanted[group] = every_topic
    async with _consumer(bootstrap, security=security) as consumer:
        partitions = await _partitions(consumer, {t for ts in wanted.values() for t in ts})
        of_group = {
            group: [TopicPartition(t, p) for t in sorted(ts) for p in partitions.get(t, [])]
            for group, ts in sorted(wanted.items())
        }
        # Committed offsets first, ends after: an end read later is never below a commit.
        committed = dict(
            zip(
                of_group,
                await asyncio.gather(
                    *(committed_offsets(bootstrap, g, tps, security) for g, tps in of_group.items())
                ),
                strict=True,
            )
        )
        parts = [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
        starts = await consumer.beginning_offsets(parts) if parts else {}
        ends = await true_end_offsets(consumer, parts)
    rows: list[LagRow] = []
    for group, tps in of_group.items():
        for tp in tps:
            done = committed[group][tp]
            if done is None and group in extra:
                continue  # a group that is not jamsos's own shows only where it committed
            lag = ends[tp] - (starts[tp] if done is None else done)
            rows.append(LagRow(group, tp.topic, tp.partition, done, ends[tp], lag))
    return rows
