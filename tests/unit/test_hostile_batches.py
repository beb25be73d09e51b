"""Hostile input (issue 10 item 6) through whole use cases, property-based, on the fakes:
batches of hostile records (tests/unit/test_hostile_input.py's strategies) never make a use
case raise, which in a service would fail the batch and stop its partition; each record ends
as an outcome or a dead letter. And the size limit in front of every consumer
(MESSAGE_TOO_LARGE) splits any batch exactly. Example counts come from the hypothesis profile
(tests/conftest.py); the CI fuzz run uses `fuzz-ci` (scripts/test.sh)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence

from hypothesis import example, given
from hypothesis import strategies as st

from jamsos.usecases.billing import record_coverage, run_billing
from jamsos.usecases.deadletters import OVERSIZED_PREFIX_BYTES, oversized, refuse_oversized, size
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import Outcome
from jamsos.usecases.registration import register
from jamsos.usecases.review import decide_reviews
from jamsos.usecases.termination import terminate
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.factory import submission
from tests.fakes import FakeUnitOfWork
from tests.unit.test_hostile_input import NOW, POLICY, hostile_bytes


def _batch(topic: str, values: Sequence[bytes]) -> list[Message]:
    return [Message(topic, 0, n, None, v) for n, v in enumerate(values)]


@given(st.lists(hostile_bytes, min_size=1, max_size=5))
@example([json.dumps(submission(worker__monthly_income=-1)).encode()] * 2)
@example([json.dumps(submission(worker__birth_date="1990-02-30")).encode()])
def test_a_batch_of_hostile_submissions_is_registered_and_verified_without_raising(
    values: list[bytes],
) -> None:
    uow = FakeUnitOfWork()
    summary = asyncio.run(register(uow, _batch(topics.SUBMITTED, values), POLICY, NOW))
    assert len(uow.state.dead_letters) == summary.counts.get(Outcome.DLQ, 0)
    dead = {letter.record.offset for letter in uow.state.dead_letters.values()}
    for letter in uow.state.dead_letters.values():
        assert letter.record.value == values[letter.record.offset]  # the original bytes, whole
    for offset, value in enumerate(values):
        if offset not in dead:  # then it is a submission (decided, or accepted for verification)
            payload = json.loads(value)
            identity = (payload["agency_code"], payload["submission_id"])
            assert identity in uow.state.submissions
    accepted = [
        Message(topics.ACCEPTED, 0, n, e.key, e.value)
        for n, e in enumerate(uow.state.outbox)
        if e.topic == topics.ACCEPTED
    ]
    asyncio.run(verify(uow, accepted, POLICY, NOW))
    for event in uow.state.events(topics.ENROLLED):
        assert event["worker"]["nik"].isascii() and event["worker"]["nik"].isdigit()


@given(st.lists(hostile_bytes, min_size=1, max_size=4))
def test_hostile_commands_and_events_end_as_decisions_or_dead_letters(values: list[bytes]) -> None:
    """Every other consumer's use case, on the same hostile bytes."""
    uow = FakeUnitOfWork()
    asyncio.run(terminate(uow, _batch(topics.TERMINATION_REQUESTED, values), POLICY, NOW))
    asyncio.run(decide_reviews(uow, _batch(topics.REVIEW_DECIDED, values), POLICY, NOW))
    asyncio.run(record_coverage(uow, _batch(topics.ENROLLED, values), NOW))
    asyncio.run(record_coverage(uow, _batch(topics.TERMINATED, values), NOW))
    asyncio.run(run_billing(uow, _batch(topics.BILLING_RUN_REQUESTED, values), NOW))
    for letter in uow.state.dead_letters.values():
        assert letter.record.value in values


sizes = st.lists(
    st.tuples(st.none() | st.integers(0, 300), st.integers(0, 300)), min_size=0, max_size=20
)


@given(sizes, st.integers(0, 400))
def test_size_limit_splits_any_batch_exactly_and_in_order(
    shapes: list[tuple[int | None, int]], limit: int
) -> None:
    batch = [
        Message("t", 0, n, None if k is None else b"k" * k, b"v" * v)
        for n, (k, v) in enumerate(shapes)
    ]
    fits, too_large = oversized(batch, limit)
    assert all(size(r) <= limit for r in fits) and all(size(r) > limit for r in too_large)
    assert sorted([*fits, *too_large], key=lambda r: r.offset) == batch
    assert fits == [r for r in batch if r in fits]  # order kept


@given(
    st.lists(st.binary(min_size=0, max_size=64) | st.just(b"x" * (OVERSIZED_PREFIX_BYTES + 1))),
    st.integers(1, 64),
)
def test_every_oversized_record_is_one_message_too_large_dead_letter(
    values: list[bytes], limit: int
) -> None:
    _, too_large = oversized(_batch(topics.SUBMITTED, values), limit)
    uow = FakeUnitOfWork()
    summary = asyncio.run(refuse_oversized(uow, too_large, limit, NOW))
    assert summary.dead_letters.get("MESSAGE_TOO_LARGE", 0) == len(too_large)
    assert len(uow.state.dead_letters) == len(too_large)
    events = uow.state.events(topics.DLQ)
    assert len(events) == len(too_large)
    for record, event in zip(too_large, events, strict=True):
        kept = base64.b64decode(event["value_b64"])
        assert kept == record.value[:OVERSIZED_PREFIX_BYTES]
        assert event["error"].startswith(f"MESSAGE_TOO_LARGE: {size(record)} bytes")
