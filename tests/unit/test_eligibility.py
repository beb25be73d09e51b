"""Rejection reasons of a submission (CONTRACT.md reason table; RULES.md age range)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from jamsos.domain.eligibility import Capacity, age_on, deceased_reason, personal_reasons
from jamsos.domain.policy import Agency, Policy
from jamsos_schemas.registration import Reason, ReasonCode, Worker

POLICY = Policy()
SUBMITTED_AT = datetime.fromisoformat("2025-01-15T09:30:00+07:00")  # Jakarta date 2025-01-15


def worker(**changes: Any) -> Worker:
    """An eligible woman born 1990-06-05 in Bakalankrapyak, Kaliwungu, with `changes` applied."""
    fields: dict[str, Any] = {
        "nik": "3319014506900001",
        "full_name": "Siti Aminah",
        "birth_date": date(1990, 6, 5),
        "sex": "F",
        "address": {"village_code": "3319012001", "street": "Jl. Sunan Muria 4"},
        "occupation": "pedagang pasar",
    }
    fields.update(changes)
    return Worker.model_validate(fields)


def born(birth_date: date) -> Worker:
    """An eligible man born on `birth_date`, with a matching NIK."""
    ddmmyy = birth_date.strftime("%d%m%y")
    return worker(nik=f"331901{ddmmyy}0001", birth_date=birth_date, sex="M")


def codes(reasons: list[Reason]) -> list[ReasonCode]:
    return [reason.code for reason in reasons]


def agency(code: str = "DISDAG", quota: int | None = None) -> Agency:
    return Agency(
        code=code,
        name="Dinas Perdagangan",
        sector="pasar",
        payer_code="PEMKAB-KUDUS",
        funding_source="APBD",
        quota=quota,
    )


def test_eligibility_of_valid_worker_has_no_reasons() -> None:
    assert personal_reasons(worker(), SUBMITTED_AT, POLICY) == []


@pytest.mark.parametrize(
    ("birth_date", "day", "age"),
    [
        (date(2007, 1, 15), date(2025, 1, 15), 18),
        (date(2007, 1, 16), date(2025, 1, 15), 17),
        (date(1990, 6, 5), date(2025, 1, 15), 34),
    ],
)
def test_age_on_counts_completed_years(birth_date: date, day: date, age: int) -> None:
    assert age_on(birth_date, day) == age


def test_age_on_born_29_february_is_not_older_on_28_february_of_non_leap_year() -> None:
    assert age_on(date(2004, 2, 29), date(2025, 2, 28)) == 20


def test_age_on_born_29_february_is_older_on_1_march_of_non_leap_year() -> None:
    assert age_on(date(2004, 2, 29), date(2025, 3, 1)) == 21


def test_age_on_birth_after_day_raises_value_error() -> None:
    with pytest.raises(ValueError):
        age_on(date(2025, 1, 16), date(2025, 1, 15))


def test_eligibility_on_18th_birthday_is_eligible() -> None:
    assert personal_reasons(born(date(2007, 1, 15)), SUBMITTED_AT, POLICY) == []


def test_eligibility_day_before_18th_birthday_is_age_out_of_range() -> None:
    reasons = personal_reasons(born(date(2007, 1, 16)), SUBMITTED_AT, POLICY)
    assert reasons == [
        Reason(
            code=ReasonCode.AGE_OUT_OF_RANGE,
            detail="age 17 on 2025-01-15 is outside 18-65 inclusive",
        )
    ]


def test_eligibility_at_65_on_last_day_before_66_is_eligible() -> None:
    assert personal_reasons(born(date(1959, 1, 16)), SUBMITTED_AT, POLICY) == []


def test_eligibility_on_66th_birthday_is_age_out_of_range() -> None:
    reasons = personal_reasons(born(date(1959, 1, 15)), SUBMITTED_AT, POLICY)
    assert codes(reasons) == [ReasonCode.AGE_OUT_OF_RANGE]
    assert "age 66" in reasons[0].detail


def test_eligibility_born_29_february_is_under_age_on_28_february_of_18th_year() -> None:
    submitted_at = datetime.fromisoformat("2022-02-28T10:00:00+07:00")
    reasons = personal_reasons(born(date(2004, 2, 29)), submitted_at, POLICY)
    assert codes(reasons) == [ReasonCode.AGE_OUT_OF_RANGE]
    assert "age 17" in reasons[0].detail


def test_eligibility_born_29_february_is_of_age_on_1_march_of_18th_year() -> None:
    submitted_at = datetime.fromisoformat("2022-03-01T10:00:00+07:00")
    assert personal_reasons(born(date(2004, 2, 29)), submitted_at, POLICY) == []


def test_eligibility_judges_age_on_jakarta_date_of_submission() -> None:
    # 2025-01-14T18:00Z is 2025-01-15T01:00 in Jakarta: the 18th birthday.
    submitted_at = datetime.fromisoformat("2025-01-14T18:00:00+00:00")
    assert personal_reasons(born(date(2007, 1, 15)), submitted_at, POLICY) == []


def test_eligibility_birth_after_submission_is_age_out_of_range() -> None:
    reasons = personal_reasons(born(date(2025, 1, 16)), SUBMITTED_AT, POLICY)
    assert codes(reasons) == [ReasonCode.AGE_OUT_OF_RANGE]
    assert "after the submission date" in reasons[0].detail


@pytest.mark.parametrize("village_code", ["3374011001", "3319999999"])
def test_eligibility_village_outside_kudus_is_out_of_region(village_code: str) -> None:
    reasons = personal_reasons(worker(address={"village_code": village_code}), SUBMITTED_AT, POLICY)
    assert codes(reasons) == [ReasonCode.OUT_OF_REGION]
    assert village_code in reasons[0].detail


def test_eligibility_lists_all_reasons_in_stable_order() -> None:
    bad = worker(
        nik="3319014506900000",  # serial 0000; day + 40 says F but sex M
        sex="M",
        birth_date=date(2010, 6, 5),
        address={"village_code": "3374011001"},
    )
    assert codes(personal_reasons(bad, SUBMITTED_AT, POLICY)) == [
        ReasonCode.NIK_INVALID,
        ReasonCode.NIK_MISMATCH,
        ReasonCode.OUT_OF_REGION,
        ReasonCode.AGE_OUT_OF_RANGE,
    ]


def test_capacity_with_room_has_no_reasons() -> None:
    capacity = Capacity({"DISDAG": 9}, 100, POLICY)
    assert capacity.reasons(agency(quota=10)) == []


def test_capacity_of_agency_without_quota_is_unlimited_below_ceiling() -> None:
    capacity = Capacity({"DISDAG": 25_000}, 25_999, POLICY)
    assert capacity.reasons(agency()) == []


def test_capacity_with_agency_quota_full_is_quota_exceeded() -> None:
    reasons = Capacity({"DISDAG": 10}, 100, POLICY).reasons(agency(quota=10))
    assert codes(reasons) == [ReasonCode.QUOTA_EXCEEDED]
    assert "agency DISDAG quota of 10" in reasons[0].detail


def test_capacity_with_regency_ceiling_full_is_quota_exceeded() -> None:
    reasons = Capacity({}, 26_000, POLICY).reasons(agency())
    assert codes(reasons) == [ReasonCode.QUOTA_EXCEEDED]
    assert "regency ceiling of 26000" in reasons[0].detail


def test_capacity_with_quota_and_ceiling_full_is_one_reason_with_both_details() -> None:
    reasons = Capacity({"DISDAG": 10}, 26_000, POLICY).reasons(agency(quota=10))
    assert codes(reasons) == [ReasonCode.QUOTA_EXCEEDED]
    assert len(reasons[0].detail.split("; ")) == 2


def test_capacity_quota_of_other_agency_does_not_count() -> None:
    capacity = Capacity({"DISHUB": 10}, 100, POLICY)
    assert capacity.reasons(agency(quota=10)) == []


def test_capacity_take_increments_agency_and_total_counts() -> None:
    capacity = Capacity({"DISDAG": 3}, 50, POLICY)
    capacity.take(agency())
    assert (capacity.active(agency()), capacity.active_total) == (4, 51)


def test_capacity_take_up_to_quota_makes_next_exceed() -> None:
    capacity = Capacity({"DISDAG": 9}, 100, POLICY)
    capacity.take(agency(quota=10))
    assert codes(capacity.reasons(agency(quota=10))) == [ReasonCode.QUOTA_EXCEEDED]


def test_capacity_does_not_change_the_given_counts() -> None:
    counts = {"DISDAG": 3}
    Capacity(counts, 50, POLICY).take(agency())
    assert counts == {"DISDAG": 3}


def test_deceased_reason_does_not_repeat_the_nik() -> None:
    reason = deceased_reason()
    assert reason.code is ReasonCode.DECEASED
    assert reason.detail == "this NIK was terminated as deceased"


@pytest.mark.parametrize(("years", "month", "day"), [(15, 1, 1), (35, 6, 5), (60, 12, 31)])
def test_aged_birth_dates_of_the_cli_tests_have_that_age_today(
    years: int, month: int, day: int
) -> None:
    """tests/factory.py's `aged`: the CLI tests' workers keep their age every year."""
    from jamsos.workers.runtime import jakarta_now
    from tests.factory import aged

    born = aged(years, month, day)
    assert (born.month, born.day) == (month, day)
    assert age_on(born, jakarta_now().date()) == years
