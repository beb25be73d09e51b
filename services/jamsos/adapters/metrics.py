"""Prometheus metrics of one service process (CONTRACT.md, "Operations interface (v1)").

Each process (each `Metrics`) has its own registry rather than prometheus-client's global one,
so that several apps in one process (tests, `jamsos demo`) do not share or clash on counters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from jamsos.usecases.messages import Message

# Decision statuses as stored → the contract's `outcome` label values.
OUTCOME_LABELS = {
    "ENROLLED": "enrolled",
    "DUPLICATE": "duplicate",
    "REJECTED": "rejected",
    "REVIEW": "review_required",
}

# From a few milliseconds (a small batch) to a minute (a 500-record batch on a slow disk).
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The contract's metric families, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.consumed = Counter(
            "jamsos_messages_consumed", "Records taken from Kafka.", ["topic"], registry=r
        )
        self.outcomes = Counter(
            "jamsos_outcomes",
            "Submission outcomes, counted once when the transaction deciding them commits.",
            ["outcome", "agency_code"],
            registry=r,
        )
        self.rejection_reasons = Counter(
            "jamsos_rejection_reasons",
            "Reasons of committed rejections (one submission may have several).",
            ["code"],
            registry=r,
        )
        self.dead_letters = Counter(
            "jamsos_dead_letters",
            "Records written to jamsos.dlq.v1, by error code.",
            ["error"],
            registry=r,
        )
        self.batch_duration = Histogram(
            "jamsos_batch_duration_seconds",
            "Processing time of one consumed batch.",
            ["consumer"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.outbox_pending = Gauge(
            "jamsos_outbox_pending", "Unpublished outbox rows (whole database).", registry=r
        )
        self.outbox_failed = Gauge(  # an extension of the contract's metrics (README)
            "jamsos_outbox_failed",
            "Outbox rows the broker refused for good (whole database; `jamsos ops outbox`).",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "jamsos_consumer_lag",
            "Records on a partition not yet committed by the group (end offset - committed).",
            ["group", "topic", "partition"],
            registry=r,
        )

    def taken(self, records: Sequence[Message]) -> None:
        """Count records taken from Kafka (redeliveries included: they were taken again)."""
        by_topic: dict[str, int] = {}
        for record in records:
            by_topic[record.topic] = by_topic.get(record.topic, 0) + 1
        for topic, n in by_topic.items():
            self.consumed.labels(topic=topic).inc(n)

    def committed(
        self,
        outcomes: Mapping[tuple[str, str], int],
        reasons: Mapping[str, int],
        dead_letters: Mapping[str, int],
    ) -> None:
        """Count what a transaction committed (see `BatchSummary`); only after the commit.

        `outcomes` maps (decision status, agency_code), `reasons` reason codes and
        `dead_letters` error codes to how many were written.
        """
        for (status, agency_code), n in outcomes.items():
            outcome = OUTCOME_LABELS.get(status)
            if outcome is not None:
                self.outcomes.labels(outcome=outcome, agency_code=agency_code).inc(n)
        for code, n in reasons.items():
            self.rejection_reasons.labels(code=code).inc(n)
        for error, n in dead_letters.items():
            self.dead_letters.labels(error=error).inc(n)

    def lag(self, rows: Iterable[tuple[str, str, int, int]]) -> None:
        """Replace the lag gauges with (group, topic, partition, lag) rows.

        Cleared and refilled without an await in between, so a scrape (on the same event loop)
        never sees a half-filled family.
        """
        self.consumer_lag.clear()
        for group, topic, partition, lag in rows:
            self.consumer_lag.labels(group=group, topic=topic, partition=str(partition)).set(lag)
