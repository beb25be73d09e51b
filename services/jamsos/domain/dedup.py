"""Look-alike detection: an eligible worker who resembles an active participant under another NIK.

Exact de-duplication is by NIK (the `nik_claims` key). A different NIK can still be the same
person: a mistyped digit, or a NIK re-issued after a move. Like OpenG2P and OpenSPP (RULES.md,
"What the peers do"), such matches are never merged automatically; they are held for a person
to decide (`registration.review-required`). The rule is deliberately conservative so that
namesakes are not held: same birth date, same sex, same village, and names at least 90%
alike (token order and case ignored).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from jamsos_schemas.registration import Worker

NAME_THRESHOLD = 90.0


# Look-alikes are sought only among participants of the worker's group: same birth date, sex
# and village. The store reads a batch's candidates by these keys (an index on the three,
# migration 0020), never by birth date alone: at a province's million participants a birth
# date has ~70 of them, and a batch of 2,000 read ~125,000 rows to compare a few.
Group = tuple[dt.date, str, str]


def group_of(worker: Worker) -> Group:
    """The worker's look-alike group: birth date, sex, village."""
    return (worker.birth_date, worker.sex, worker.address.village_code)


@dataclass(frozen=True)
class Participant:
    """What look-alike detection needs of an active participant."""

    membership_no: str
    nik: str
    full_name: str
    birth_date: dt.date
    sex: str
    village_code: str
    agency_code: str


@dataclass(frozen=True)
class Lookalike:
    """A participant the worker resembles, with the name similarity (0-1)."""

    participant: Participant
    score: float


def name_similarity(a: str, b: str) -> float:
    """How alike two names are, 0-100, ignoring case and word order."""
    return float(fuzz.token_sort_ratio(a.casefold(), b.casefold()))


def lookalikes(worker: Worker, participants: Iterable[Participant]) -> list[Lookalike]:
    """Active participants under another NIK who look like `worker`, best match first."""
    return Lookalikes(participants).find(worker)


class Lookalikes:
    """Participants grouped by birth date, sex and village, so that a batch compares names only
    within a group (a batch of 500 against thousands of participants stays cheap)."""

    def __init__(self, participants: Iterable[Participant]) -> None:
        self._groups: dict[Group, list[Participant]] = {}
        for p in participants:
            self.add(p)

    def add(self, participant: Participant) -> None:
        """One more participant to compare with (a worker enrolled earlier in the batch)."""
        key = (participant.birth_date, participant.sex, participant.village_code)
        self._groups.setdefault(key, []).append(participant)

    def find(self, worker: Worker) -> list[Lookalike]:
        """Participants under another NIK who look like `worker`, best match first."""
        group = self._groups.get(group_of(worker), [])
        found = [
            Lookalike(p, round(score / 100.0, 3))
            for p in group
            if p.nik != worker.nik
            and (score := name_similarity(p.full_name, worker.full_name)) >= NAME_THRESHOLD
        ]
        return sorted(found, key=lambda match: (-match.score, match.participant.membership_no))
