"""Every consumer turns values it cannot read into dead letters instead of failing the batch
(a failed batch is redelivered, so one bad message would stop its whole subscriber)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from itertools import count
from pathlib import Path

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.domain.policy import Policy
from jamsos.settings import load_settings
from jamsos.usecases.billing import record_coverage, run_billing
from jamsos.usecases.messages import Message
from jamsos.usecases.review import decide_reviews
from jamsos.usecases.termination import terminate
from jamsos.usecases.verification import verify
from jamsos.workers.runtime import jakarta_now
from jamsos_schemas import topics

pytestmark = pytest.mark.integration

VALUES = {
    "utf16": '{"event_id": "x", "request_id": "r"}'.encode("utf-16"),
    "huge_integer": b'{"event_id": "x", "request_id": "r", "n": ' + b"9" * 5000 + b"}",
    "deep_nesting": b'{"event_id": "x", "n": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "not_an_object": b"[1, 2, 3]",
}
_offsets = count()

Consumer = Callable[[asyncpg.Pool, Sequence[Message], Policy], Awaitable[object]]
CONSUMERS: dict[str, tuple[str, Consumer]] = {
    "verification": (
        topics.ACCEPTED,
        lambda p, b, pol: verify(PostgresUnitOfWork(p), b, pol, jakarta_now()),
    ),
    "review": (
        topics.REVIEW_DECIDED,
        lambda p, b, pol: decide_reviews(PostgresUnitOfWork(p), b, pol, jakarta_now()),
    ),
    "termination": (
        topics.TERMINATION_REQUESTED,
        lambda p, b, pol: terminate(PostgresUnitOfWork(p), b, pol, jakarta_now()),
    ),
    "billing-ledger": (
        topics.ENROLLED,
        lambda p, b, pol: record_coverage(PostgresUnitOfWork(p), b, jakarta_now()),
    ),
    "billing-run": (
        topics.BILLING_RUN_REQUESTED,
        lambda p, b, pol: run_billing(PostgresUnitOfWork(p), b, jakarta_now()),
    ),
}


@pytest.mark.parametrize("value", sorted(VALUES))
@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
async def test_unreadable_value_becomes_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, consumer: str, value: str
) -> None:
    topic, consume = CONSUMERS[consumer]
    policy = load_settings(env={}, cwd=tmp_path).policy
    await consume(pool, [Message(topic, 0, next(_offsets), None, VALUES[value])], policy)
    [error] = await pool.fetch("SELECT error FROM dead_letters")
    assert error["error"].split(":")[0] in {"UNREADABLE", "SCHEMA_INVALID"}
