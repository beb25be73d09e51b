"""Hostile submissions and termination requests through the use cases on real PostgreSQL:
each record ends as an outcome (accepted or rejected with a reason) or a dead letter with its
original bytes; nothing raises (which would stop the partition or reach the backstop)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.settings import Settings
from jamsos.usecases.registration import register
from jamsos.usecases.termination import terminate
from jamsos.usecases.verification import verify
from jamsos_schemas import topics
from tests.factory import submission
from tests.integration.billing_support import JAN_20, record, termination

pytestmark = pytest.mark.integration

NASTY_NAMES = [
    "Siti\u0301\u0301 Aminah",
    "\u202eHanimA itiS",
    "Si\u200bti Ami\u200dnah",
    "Siti\x00Aminah",
    "\ufeffSiti",
    "S" * 100_000,
]
NASTY_WORKER: list[dict[str, Any]] = [
    {"nik": "٣٣١٩٠١٤٥٠٦٩٠٠٠٠١"},
    {"nik": "３３１９０１４５０６９００００１"},
    {"birth_date": "1990-02-30"},
    {"monthly_income": -1_500_000},
    {"monthly_income": 10**40},
    {"desil": "1"},
    {"address": {"village_code": "٣٣١٩٠١٢٠٠١", "street": "x"}},
    {"address": "Jl. Sunan Muria"},
    {"phone": "\x00"},
    {"occupation": "\u0000"},
    *({"full_name": n} for n in NASTY_NAMES),
]


def hostile_values() -> list[bytes]:
    values = []
    for n, change in enumerate(NASTY_WORKER):
        payload = submission(submission_id=f"H-{n}")
        payload["worker"].update(change)
        values.append(json.dumps(payload).encode())
    values += [
        b"[" * 100_000,
        b'{"agency_code": "DISDAG", "submission_id": "H-trunc", "worker": {"nik": "33',
        json.dumps(submission(submission_id="H-\x00")).encode(),
        json.dumps(submission(submission_id="H-big", note="x" * 900_000)).encode(),
        b"\xff\xfe{}",
    ]
    return values


async def test_hostile_submissions_each_end_as_an_outcome_or_a_dead_letter(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    values = hostile_values()
    summary = await register(
        PostgresUnitOfWork(pool),
        [record(v, topics.SUBMITTED) for v in values],
        settings.policy,
        JAN_20,
    )
    ends = sum(summary.counts.get(k, 0) for k in ("ACCEPTED", "REJECTED", "DUPLICATE", "DLQ"))
    assert ends == len(values), summary.counts
    stored = {bytes(r["value"]) for r in await pool.fetch("SELECT value FROM dead_letters")}
    assert len(stored) == summary.counts.get("DLQ", 0)
    assert stored <= set(values)  # the original bytes
    # what registration accepted, verification judges: a NIK in other digits is NIK_INVALID,
    # never a participant under a second spelling of a NIK
    accepted = await pool.fetch("SELECT value FROM outbox WHERE topic = $1", topics.ACCEPTED)
    await verify(
        PostgresUnitOfWork(pool),
        [record(bytes(r["value"]), topics.ACCEPTED) for r in accepted],
        settings.policy,
        JAN_20,
    )
    participants = [r["nik"] for r in await pool.fetch("SELECT nik FROM participants")]
    assert participants == ["3319014506900001"]  # the one worker whose only oddity is a name
    rejected = await pool.fetch("SELECT value FROM outbox WHERE topic = $1", topics.REJECTED)
    codes = {
        json.loads(bytes(r["value"]))["nik"]: {
            x["code"] for x in json.loads(bytes(r["value"]))["reasons"]
        }
        for r in rejected
    }
    assert "NIK_INVALID" in codes["٣٣١٩٠١٤٥٠٦٩٠٠٠٠١"]


async def test_hostile_termination_requests_each_end_as_an_outcome_or_a_dead_letter(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    requests: list[Any] = [
        termination("٣٣١٩٠١٤٥٠٦٩٠٠٠٠١", request_id="R-1"),
        termination("3319014506900001", effective_date="1990-02-30", request_id="R-2"),
        termination("3319014506900001", request_id="R-\x00"),
        termination("3319014506900001", agency="DIS\u200bDAG", request_id="R-4"),
        {**termination("3319014506900001", request_id="R-5"), "reason": ["DECEASED"]},
        b"\x00\x01",
        b"[" * 100_000,
    ]
    summary = await terminate(
        PostgresUnitOfWork(pool),
        [record(r, topics.TERMINATION_REQUESTED) for r in requests],
        settings.policy,
        JAN_20,
    )
    ends = sum(summary.counts.get(k, 0) for k in ("TERMINATED", "NOT_FOUND", "DLQ"))
    assert ends == len(requests), summary.counts
