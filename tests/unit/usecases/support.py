"""What the use-case unit tests share: the policy, a clock, messages, and a register→verify run."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from itertools import count
from pathlib import Path
from typing import Any

from jamsos.domain.coverage import JAKARTA
from jamsos.domain.policy import Policy
from jamsos.settings import load_settings
from jamsos.usecases.messages import Message
from jamsos.usecases.registration import register
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.fakes import FakeUnitOfWork

NOW = dt.datetime(2025, 1, 20, 10, 0, tzinfo=JAKARTA)
POLICY: Policy = load_settings(env={}, cwd=Path(__file__).parent).policy
_offsets = count()


def with_quota(agency_code: str, quota: int) -> Policy:
    """POLICY with one agency's quota set."""
    agencies = tuple(
        replace(a, quota=quota) if a.code == agency_code else a for a in POLICY.agencies
    )
    return replace(POLICY, agencies=agencies)


def message(payload: Any, topic: str = topics.SUBMITTED) -> Message:
    """A consumed message holding `payload` (bytes as they are, anything else as JSON)."""
    value = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Message(topic, 0, next(_offsets), None, value)


def accepted(uow: FakeUnitOfWork, since: int = 0) -> list[Message]:
    """The `registration.accepted` events written after outbox position `since`, as messages."""
    return [
        Message(topics.ACCEPTED, 0, next(_offsets), e.key, e.value)
        for e in uow.state.outbox[since:]
        if e.topic == topics.ACCEPTED
    ]


async def enrol(
    uow: FakeUnitOfWork, payloads: list[dict[str, Any]], policy: Policy = POLICY
) -> None:
    """Register and verify submissions, as the two services would."""
    since = len(uow.state.outbox)
    await register(uow, [message(p) for p in payloads], policy, NOW)
    await verify(uow, accepted(uow, since), policy, NOW)


def status(uow: FakeUnitOfWork, agency_code: str, submission_id: str) -> str:
    """The stored status of one submission."""
    return str(uow.state.submissions[(agency_code, submission_id)]["status"])
