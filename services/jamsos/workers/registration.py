"""Registration service entry: `jamsos.registration.submitted.v1` → registration use case."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from jamsos.usecases.registration import register
from jamsos.workers.runtime import Runtime, consume
from jamsos_schemas import topics
from jamsos_schemas.dlq import DeadLetterV1
from jamsos_schemas.registration import (
    RegistrationAcceptedV1,
    RegistrationDuplicateV1,
    RegistrationRejectedV1,
    RegistrationSubmittedV1,
)


def router(runtime: Runtime) -> KafkaRouter:
    """Subscribers and documented publishers of the registration service."""
    r = KafkaRouter()
    policy = runtime.settings.policy
    consume(
        r,
        runtime,
        topics.SUBMITTED,
        group="registration",
        decide=lambda batch: register(runtime.uow, batch, policy, runtime.clock()),
        title="registration:submitted",
        description="Identify, validate and de-duplicate agency submissions (raw bytes).",
    )
    r.publisher(
        topics.SUBMITTED,
        schema=RegistrationSubmittedV1,
        title="agency:submitted",
        description="Agency systems and `jamsos submit` publish one worker per message.",
    )
    r.publisher(topics.ACCEPTED, schema=RegistrationAcceptedV1, title="registration:accepted")
    r.publisher(topics.DUPLICATE, schema=RegistrationDuplicateV1, title="registration:duplicate")
    r.publisher(topics.REJECTED, schema=RegistrationRejectedV1, title="registration:rejected")
    r.publisher(topics.DLQ, schema=DeadLetterV1, title="registration:dlq")
    return r
