"""The chaos feed and its oracle.

The feed is built here, from `jamsos.synthetic`'s workers, with every message labelled by what
it is (valid, cross-agency duplicate, same-agency resubmission under a new id, redelivery of the
same bytes, invalid). The oracle walks the publishing order and derives every expected outcome,
enrolment and charge from those labels and the contract alone; it calls no production code:
- a redelivery (an identity already seen) adds nothing;
- an invalid submission is rejected;
- the first submission of a valid NIK (on the NIK's partition, i.e. in publishing order) is
  enrolled, under its agency; every later one is a duplicate;
- everyone enrolled is charged Rp16,800 in both billed periods, but someone terminated with
  an effective date in the first period is charged in the first only.

No two workers of the feed share birth date, sex and village, so that no look-alike can be held
for review (the contract's match needs all three): every submission has a terminal outcome.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from jamsos import synthetic
from jamsos.domain.wilayah import villages as kudus_villages

AGENCIES = ("DISDAG", "DISHUB", "BPBD", "DINSOS", "DISNAKERPERINKOP", "DISPERTANPANGAN")
PREMIUM = 16_800  # Rp a month: JKK 10,000 + JKM 6,800 (CONTRACT.md, 2025 tariff)

VALID, DUPLICATE, RESUBMISSION, REDELIVERY, INVALID = (
    "valid",
    "cross-agency duplicate",
    "resubmission",
    "redelivery",
    "invalid",
)


@dataclass(frozen=True)
class Message:
    """One record to publish on `registration.submitted.v1`."""

    kind: str
    agency: str
    submission_id: str
    nik: str
    value: bytes

    @property
    def identity(self) -> tuple[str, str]:
        return (self.agency, self.submission_id)


@dataclass
class Feed:
    messages: list[Message]  # in publishing order
    mix: Counter[str] = field(default_factory=Counter)


def _region(block: int, base: int) -> str:
    """A district prefix of the NIK, unique per block of 9,999 serials (never a Kudus one by
    accident: the region prefix is not checked, only the village is)."""
    return f"{base + block // 9801:02d}{1 + (block // 99) % 99:02d}{1 + block % 99:02d}"


def build(n: int, seed: int, today: dt.date, submitted_at: dt.datetime) -> Feed:
    """`n` messages: 76% valid, 10% the same worker from another agency, 4% the same worker
    again from the same agency under a new submission id, 5% redeliveries of an earlier
    message's bytes, 5% invalid (NIK serial 0000, under age, or living outside Kudus)."""
    rng = random.Random(seed)
    duplicates, resubmissions, redeliveries, invalid = n // 10, n // 25, n // 20, n // 20
    valid = n - duplicates - resubmissions - redeliveries - invalid
    villages = sorted(kudus_villages())
    taken: set[tuple[str, str, str]] = set()
    people: list[Message] = []
    workers: list[dict[str, Any]] = []
    stamp = submitted_at.isoformat()

    def message(kind: str, agency: str, sid: str, person: dict[str, Any]) -> Message:
        body = synthetic.submission(agency, sid, person, submitted_at)
        body["submitted_at"] = stamp
        return Message(kind, agency, sid, person["nik"], json.dumps(body).encode())

    for i in range(valid + invalid):
        bad = i >= valid
        person = synthetic.worker(rng, i, today, age=16 if bad and i % 3 == 1 else None)
        birth = dt.date.fromisoformat(person["birth_date"])
        address = person["address"]
        while (person["birth_date"], person["sex"], address["village_code"]) in taken:
            address["village_code"] = rng.choice(villages)
        taken.add((person["birth_date"], person["sex"], address["village_code"]))
        if bad and i % 3 == 0:  # serial 0000: not a NIK
            person["nik"] = synthetic.nik_for(birth, person["sex"], 0, _region(i - valid, 60))
        else:
            serial, region = 1 + i % 9999, _region(i // 9999, 33)
            person["nik"] = synthetic.nik_for(birth, person["sex"], serial, region)
        if bad and i % 3 == 2:
            person["address"] = {"village_code": "3374011001", "street": "Semarang"}
        agency = AGENCIES[i % len(AGENCIES)]
        people.append(message(INVALID if bad else VALID, agency, f"CHAOS-{i:07d}", person))
        workers.append(person)
    for j in range(duplicates):  # another agency proposes the same worker
        k = j * valid // duplicates
        other = AGENCIES[(AGENCIES.index(people[k].agency) + 1) % len(AGENCIES)]
        people.append(message(DUPLICATE, other, f"CHAOS-DUP-{j:07d}", workers[k]))
    for j in range(resubmissions):  # the same agency again, under a new submission id
        k = (j * valid // resubmissions + valid // (2 * resubmissions)) % valid
        people.append(message(RESUBMISSION, people[k].agency, f"CHAOS-RE-{j:07d}", workers[k]))
    rng.shuffle(people)
    # each redelivery re-sends the bytes of a message of the first half, somewhere after it
    placed = [(float(p), m) for p, m in enumerate(people)]
    half = len(people) // 2
    for j in range(redeliveries):
        p = j * half // redeliveries
        again = people[p]
        placed.append((rng.uniform(p + 0.5, len(people)), _redelivered(again)))
    placed.sort(key=lambda pm: pm[0])
    messages = [m for _, m in placed]
    return Feed(messages, Counter(m.kind for m in messages))


def _redelivered(m: Message) -> Message:
    return Message(REDELIVERY, m.agency, m.submission_id, m.nik, m.value)


@dataclass
class Oracle:
    """What the feed must end as."""

    outcomes: dict[tuple[str, str], str]  # identity -> ENROLLED / DUPLICATE / REJECTED
    enrolled: dict[str, str]  # NIK -> agency that enrolled it

    def enrolled_per_agency(self, without: frozenset[str] = frozenset()) -> dict[str, int]:
        counts = Counter(a for nik, a in self.enrolled.items() if nik not in without)
        return dict(counts)


def oracle(messages: list[Message]) -> Oracle:
    outcomes: dict[tuple[str, str], str] = {}
    enrolled: dict[str, str] = {}
    for m in messages:
        if m.identity in outcomes:
            assert m.kind == REDELIVERY, m
            continue
        if m.kind == INVALID:
            outcomes[m.identity] = "REJECTED"
        elif m.nik in enrolled:
            outcomes[m.identity] = "DUPLICATE"
        else:
            outcomes[m.identity] = "ENROLLED"
            enrolled[m.nik] = m.agency
    return Oracle(outcomes, enrolled)


def charges(o: Oracle, terminated: frozenset[str]) -> dict[str, dict[str, tuple[int, int]]]:
    """Per period ("first", "second") and agency: (participants, amount)."""
    first = o.enrolled_per_agency()
    second = o.enrolled_per_agency(without=terminated)
    return {
        "first": {a: (c, c * PREMIUM) for a, c in first.items()},
        "second": {a: (c, c * PREMIUM) for a, c in second.items()},
    }
