"""Verification service entry: accepted submissions → eligibility and enrolment."""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaRouter

from jamsos.adapters.kafka import inbound, raw_records
from jamsos.usecases.review import decide_reviews
from jamsos.usecases.termination import terminate
from jamsos.usecases.verification import verify
from jamsos.workers.runtime import Runtime, process
from jamsos_schemas import topics
from jamsos_schemas.participant import (
    ParticipantEnrolledV1,
    ParticipantTerminatedV1,
    ParticipantTerminationRequestedV1,
)
from jamsos_schemas.registration import (
    RegistrationRejectedV1,
    RegistrationReviewDecidedV1,
    RegistrationReviewRequiredV1,
)


def router(runtime: Runtime) -> KafkaRouter:
    """Subscribers and documented publishers of the verification (enrolment) service."""
    r = KafkaRouter()
    settings = runtime.settings

    @r.subscriber(
        topics.ACCEPTED,
        group_id=f"{settings.group_prefix}.verification",
        batch=True,
        max_records=settings.batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        title="verification:accepted",
        description="Check every eligibility rule; enrol or reject with all reasons.",
    )
    async def on_accepted(records: Any) -> None:
        await process(
            runtime,
            inbound(records),
            lambda b: verify(runtime.pool, b, settings.policy, runtime.clock()),
            "verification",
        )

    @r.subscriber(
        topics.REVIEW_DECIDED,
        group_id=f"{settings.group_prefix}.review",
        batch=True,
        max_records=settings.batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        title="verification:review-decided",
        description="An operator's decision on a held submission: ENROL or DUPLICATE.",
    )
    async def on_review_decided(records: Any) -> None:
        await process(
            runtime,
            inbound(records),
            lambda b: decide_reviews(runtime.pool, b, settings.policy, runtime.clock()),
            "review",
        )

    r.publisher(topics.ENROLLED, schema=ParticipantEnrolledV1, title="verification:enrolled")
    r.publisher(topics.REJECTED, schema=RegistrationRejectedV1, title="verification:rejected")
    r.publisher(
        topics.REVIEW_REQUIRED,
        schema=RegistrationReviewRequiredV1,
        title="verification:review-required",
    )
    r.publisher(
        topics.REVIEW_DECIDED,
        schema=RegistrationReviewDecidedV1,
        title="ops:review-decided",
        description="`jamsos review decide` resolves a held submission.",
    )

    # --- terminations (billing issue): the enrolment side owns participants ---
    @r.subscriber(
        topics.TERMINATION_REQUESTED,
        group_id=f"{settings.group_prefix}.termination",
        batch=True,
        max_records=settings.batch_size,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=raw_records,
        title="verification:termination-requested",
        description="End a participant's coverage at the end of the effective month.",
    )
    async def on_termination_requested(records: Any) -> None:
        await process(
            runtime,
            inbound(records),
            lambda b: terminate(runtime.pool, b, settings.policy, runtime.clock()),
            "termination",
        )

    r.publisher(
        topics.TERMINATION_REQUESTED,
        schema=ParticipantTerminationRequestedV1,
        title="agency:termination-requested",
        description="Agency systems ask to end a participant's coverage.",
    )
    r.publisher(topics.TERMINATED, schema=ParticipantTerminatedV1, title="verification:terminated")
    return r
