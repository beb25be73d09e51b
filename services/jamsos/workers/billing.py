"""Billing service entry: participant events → coverage ledger; run requests → invoices."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from jamsos.usecases.billing import LEDGER, record_coverage, run_billing
from jamsos.workers.runtime import Runtime, consume
from jamsos_schemas import topics
from jamsos_schemas.billing import BillingRunRequestedV1, InvoiceIssuedV1
from jamsos_schemas.dlq import DeadLetterV1


def router(runtime: Runtime) -> KafkaRouter:
    """Subscribers and documented publishers of the billing service."""
    r = KafkaRouter()
    consume(
        r,
        runtime,
        topics.ENROLLED,
        topics.TERMINATED,
        group=LEDGER,
        decide=lambda batch: record_coverage(runtime.uow, batch, runtime.clock()),
        title="billing:coverage",
        description="Keep each participant's coverage periods from enrolled/terminated events.",
        max_records=runtime.settings.ledger_batch_size,
    )
    consume(
        r,
        runtime,
        topics.BILLING_RUN_REQUESTED,
        group="billing-run",
        decide=lambda batch: run_billing(runtime.uow, batch, runtime.clock()),
        title="billing:run-requested",
        description="Accrue a period's premiums and issue the difference as invoices.",
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
