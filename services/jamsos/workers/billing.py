"""Billing service entry: participant events → coverage ledger; run requests → invoices."""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaRouter

from jamsos.adapters.kafka import inbound, raw_records
from jamsos.usecases.billing import record_coverage, run_billing
from jamsos.workers.runtime import Runtime, process
from jamsos_schemas import topics
from jamsos_schemas.billing import BillingRunRequestedV1, InvoiceIssuedV1
from jamsos_schemas.dlq import DeadLetterV1


def router(runtime: Runtime) -> KafkaRouter:
    """Subscribers and documented publishers of the billing service."""
    r = KafkaRouter()
    settings = runtime.settings

    @r.subscriber(
        topics.ENROLLED,
        topics.TERMINATED,
        group_id=f"{settings.group_prefix}.billing-ledger",
        batch=True,
        max_records=settings.batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        title="billing:coverage",
        description="Keep each participant's coverage periods from enrolled/terminated events.",
    )
    async def on_participant(records: Any) -> None:
        await process(
            runtime,
            inbound(records),
            lambda b: record_coverage(runtime.pool, b, runtime.clock()),
            "billing ledger batch",
        )

    @r.subscriber(
        topics.BILLING_RUN_REQUESTED,
        group_id=f"{settings.group_prefix}.billing-run",
        batch=True,
        max_records=settings.batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        title="billing:run-requested",
        description="Accrue a period's premiums and issue the difference as invoices.",
    )
    async def on_run_requested(records: Any) -> None:
        await process(
            runtime,
            inbound(records),
            lambda b: run_billing(runtime.pool, b, runtime.clock()),
            "billing run batch",
        )

    r.publisher(
        topics.BILLING_RUN_REQUESTED,
        schema=BillingRunRequestedV1,
        title="ops:bill",
        description="Operators, a scheduler or `jamsos bill` request a period's run.",
    )
    r.publisher(topics.INVOICE_ISSUED, schema=InvoiceIssuedV1, title="billing:invoice-issued")
    r.publisher(topics.DLQ, schema=DeadLetterV1, title="billing:dlq")
    return r
