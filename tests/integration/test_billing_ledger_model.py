"""The billing ledger against a model of what it must hold: random sequences of enrolments
(with ties), terminations, redeliveries within and across batches, deleted rows and a
truncated ledger, written in chunks of 1, 2, 3 and 1,000. The model: each event id is applied
once; a period keeps its latest enrolment (the first on a tie) and its latest termination by
their own timestamps; a deleted period stays deleted when its events come again."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from typing import Any

import asyncpg
import pytest

from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.usecases import billing
from jamsos.usecases.billing import record_coverage
from jamsos.usecases.messages import Message
from jamsos_schemas import topics
from tests.integration.billing_support import JAN_20, enrolled_event, record, terminated_event

pytestmark = pytest.mark.integration

KEYS = [("KDS-000000001", "2025-02-01"), ("KDS-000000001", "2025-05-01"),
        ("KDS-000000002", "2025-02-01")]  # fmt: skip
AGENCIES = ["DISDAG", "DISHUB", "BPBD", "DINSOS"]
WIB = dt.timezone(dt.timedelta(hours=7))
Item = tuple[Message, str, tuple[str, str], tuple[Any, Any]]


def at(hours: int) -> str:
    return (dt.datetime(2025, 1, 1, 10, tzinfo=WIB) + dt.timedelta(hours=hours)).isoformat()


def event_id(message: Message) -> uuid.UUID:
    return uuid.UUID(json.loads(message.value)["event_id"])


class Scenario:
    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.model: dict[tuple[str, str], dict[str, Any]] = {}
        self.applied: set[uuid.UUID] = set()
        self.sent: list[Item] = []
        self.terminations = 1000  # distinct termination times (ties are resolved elsewhere)

    def new_item(self) -> Item:
        rnd = self.rnd
        key = rnd.choice(KEYS)
        if rnd.random() < 0.65:
            body = enrolled_event(
                *key, agency=rnd.choice(AGENCIES), enrolled_at=at(rnd.randint(0, 4))
            )
            body["event_id"] = str(uuid.uuid4())
            when = dt.datetime.fromisoformat(body["enrolled_at"])
            return record(body, topics.ENROLLED), "E", key, (body["agency_code"], when)
        self.terminations += 1
        end = rnd.choice(["2025-03-31", "2025-04-30", "2025-06-30"])
        hour = rnd.choice([self.terminations, 2000 - self.terminations])
        body = terminated_event(*key, end, decided_at=at(hour))
        body["event_id"] = str(uuid.uuid4())
        when = dt.datetime.fromisoformat(body["decided_at"])
        return record(body, topics.TERMINATED), "T", key, (when, dt.date.fromisoformat(end))

    def expect(self, batch: list[Item]) -> tuple[int, int]:
        """Apply `batch` to the model; the (new, repeated) counts it should report."""
        new, seen, ended = 0, set(), {}
        for message, kind, key, data in batch:
            eid = event_id(message)
            if eid in seen:
                continue
            seen.add(eid)
            if eid in self.applied:
                continue
            self.applied.add(eid)
            new += 1
            row = self.model.setdefault(key, dict(agency=None, enrolled=None, ended=None, end=None))
            if kind == "E":
                if row["enrolled"] is None or data[1] > row["enrolled"]:
                    row["agency"], row["enrolled"] = data
            elif key not in ended or data[0] > ended[key][0]:
                ended[key] = data
        for key, (when, end) in ended.items():
            row = self.model[key]
            if row["ended"] is None or when > row["ended"]:
                row["ended"], row["end"] = when, end
        return new, len(batch) - new


async def held(pool: asyncpg.Pool) -> dict[tuple[str, str], dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT membership_no, coverage_start::text, agency_code, enrolled_at, terminated_at,"
        " ended_on FROM coverage"
    )
    return {(r[0], r[1]): dict(agency=r[2], enrolled=r[3], ended=r[4], end=r[5]) for r in rows}


async def test_the_ledger_holds_what_the_model_says_after_any_sequence(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for seed in range(120):
        rnd = random.Random(seed)
        monkeypatch.setattr(billing, "CHUNK", rnd.choice([1, 2, 3, 1000]))
        await pool.execute("TRUNCATE coverage, ledger_events")
        scenario = Scenario(rnd)
        for step in range(rnd.randint(3, 8)):
            roll = rnd.random()
            if roll < 0.12 and scenario.model:
                key = rnd.choice(list(scenario.model))
                await pool.execute(
                    "DELETE FROM coverage WHERE membership_no = $1 AND coverage_start = $2",
                    key[0],
                    dt.date.fromisoformat(key[1]),
                )
                del scenario.model[key]
                continue
            if roll < 0.17:
                await pool.execute("TRUNCATE coverage")
                scenario.model.clear()
                continue
            batch = []
            for _ in range(rnd.randint(1, 7)):
                if scenario.sent and rnd.random() < 0.4:
                    batch.append(rnd.choice(scenario.sent))
                else:
                    item = scenario.new_item()
                    scenario.sent.append(item)
                    batch.append(item)
            expected = scenario.expect(batch)
            summary = await record_coverage(PostgresUnitOfWork(pool), [b[0] for b in batch], JAN_20)
            where = f"seed {seed}, step {step}"
            assert (summary.new, summary.repeated) == expected, where
            assert await held(pool) == scenario.model, where
