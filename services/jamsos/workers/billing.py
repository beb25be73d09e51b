"""Billing service entry (placeholder until the billing issue lands)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from jamsos.workers.runtime import Runtime


def router(runtime: Runtime) -> KafkaRouter:
    """Subscribers and documented publishers of the billing service."""
    return KafkaRouter()
