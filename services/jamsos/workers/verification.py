"""Verification service entry: accepted submissions → eligibility and enrolment."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from jamsos.usecases.review import decide_reviews
from jamsos.usecases.termination import terminate
from jamsos.usecases.verification import verify
from jamsos.workers.runtime import Runtime, consume
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
    policy = runtime.settings.policy
    consume(
        r,
        runtime,
        topics.ACCEPTED,
        group="verification",
        decide=lambda batch: verify(runtime.uow, batch, policy, runtime.clock()),
        title="verification:accepted",
        description="Check every eligibility rule; enrol, hold for review or reject.",
    )
    consume(
        r,
        runtime,
        topics.REVIEW_DECIDED,
        group="review",
        decide=lambda batch: decide_reviews(runtime.uow, batch, policy, runtime.clock()),
        title="verification:review-decided",
        description="An operator's decision on a held submission: ENROL or DUPLICATE.",
    )
    consume(
        r,
        runtime,
        topics.TERMINATION_REQUESTED,
        group="termination",
        decide=lambda batch: terminate(runtime.uow, batch, policy, runtime.clock()),
        title="verification:termination-requested",
        description="End a participant's coverage at the end of the effective month.",
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

    r.publisher(
        topics.TERMINATION_REQUESTED,
        schema=ParticipantTerminationRequestedV1,
        title="agency:termination-requested",
        description="Agency systems ask to end a participant's coverage.",
    )
    r.publisher(topics.TERMINATED, schema=ParticipantTerminatedV1, title="verification:terminated")
    return r
