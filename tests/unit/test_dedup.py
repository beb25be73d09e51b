"""Look-alike detection (held for review, never merged automatically)."""

from __future__ import annotations

import datetime as dt

from jamsos.domain.dedup import Participant, lookalikes, name_similarity
from jamsos_schemas.registration import Worker

SITI = Participant(
    "KDS-000000001",
    "3319014506900001",
    "Siti Aminah",
    dt.date(1990, 6, 5),
    "F",
    "3319012001",
    "DISDAG",
)


def worker(**changes: object) -> Worker:
    data: dict[str, object] = {
        "nik": "3319014506900002",
        "full_name": "Siti Aminah",
        "birth_date": dt.date(1990, 6, 5),
        "sex": "F",
        "address": {"village_code": "3319012001"},
        "occupation": "pedagang",
    }
    data.update(changes)
    return Worker.model_validate(data, strict=False)


def test_same_person_under_another_nik_is_a_lookalike() -> None:
    [match] = lookalikes(worker(), [SITI])
    assert match.participant is SITI and match.score == 1.0


def test_name_with_swapped_words_and_case_still_matches() -> None:
    assert lookalikes(worker(full_name="aminah SITI"), [SITI])


def test_slightly_misspelled_name_matches() -> None:
    assert name_similarity("Siti Aminah", "Siti Aminnah") >= 90
    assert lookalikes(worker(full_name="Siti Aminnah"), [SITI])


def test_namesake_born_on_another_day_is_not_a_lookalike() -> None:
    assert lookalikes(worker(birth_date=dt.date(1990, 6, 6)), [SITI]) == []


def test_namesake_in_another_village_is_not_a_lookalike() -> None:
    assert lookalikes(worker(address={"village_code": "3319012002"}), [SITI]) == []


def test_different_name_is_not_a_lookalike() -> None:
    assert lookalikes(worker(full_name="Sri Rahayu"), [SITI]) == []


def test_same_nik_is_not_a_lookalike_it_is_an_exact_duplicate() -> None:
    assert lookalikes(worker(nik=SITI.nik), [SITI]) == []
