"""Coverage in whole calendar months, Asia/Jakarta (CONTRACT.md, coverage and accrual)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jamsos.domain.coverage import coverage_end, coverage_start, is_charged, local_date
from jamsos.domain.period import Period
from jamsos.domain.policy import CoverageStartRule

NEXT = CoverageStartRule.NEXT_MONTH
SAME = CoverageStartRule.SAME_MONTH
FEB = Period(2025, 2)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_coverage_start_next_month_is_first_of_following_month() -> None:
    assert coverage_start(ts("2025-01-15T09:30:00+07:00"), NEXT) == date(2025, 2, 1)


def test_coverage_start_same_month_is_first_of_enrolment_month() -> None:
    assert coverage_start(ts("2025-01-15T09:30:00+07:00"), SAME) == date(2025, 1, 1)


def test_coverage_start_uses_jakarta_month_of_utc_evening() -> None:
    # 2025-01-31T20:00Z is 2025-02-01T03:00 in Jakarta: enrolled in February.
    assert coverage_start(ts("2025-01-31T20:00:00+00:00"), NEXT) == date(2025, 3, 1)


def test_coverage_start_same_month_uses_jakarta_month_of_utc_evening() -> None:
    assert coverage_start(ts("2025-01-31T20:00:00+00:00"), SAME) == date(2025, 2, 1)


def test_coverage_start_in_december_is_january_next_year() -> None:
    assert coverage_start(ts("2025-12-10T10:00:00+07:00"), NEXT) == date(2026, 1, 1)


def test_coverage_start_of_naive_datetime_raises_value_error() -> None:
    with pytest.raises(ValueError):
        coverage_start(datetime(2025, 1, 15, 9, 30), NEXT)


def test_local_date_is_the_jakarta_date() -> None:
    assert local_date(ts("2025-01-14T18:00:00+00:00")) == date(2025, 1, 15)


@pytest.mark.parametrize(
    ("effective", "end"),
    [
        (date(2025, 3, 10), date(2025, 3, 31)),
        (date(2025, 3, 31), date(2025, 3, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2025, 2, 14), date(2025, 2, 28)),
        (date(2025, 12, 1), date(2025, 12, 31)),
    ],
)
def test_coverage_end_is_last_day_of_effective_month(effective: date, end: date) -> None:
    assert coverage_end(effective) == end


def test_is_charged_when_start_is_first_day_of_period() -> None:
    assert is_charged(date(2025, 2, 1), None, FEB)


def test_is_charged_not_when_start_is_second_day_of_period() -> None:
    assert not is_charged(date(2025, 2, 2), None, FEB)


def test_is_charged_not_when_start_is_after_period() -> None:
    assert not is_charged(date(2025, 3, 1), None, FEB)


def test_is_charged_when_end_is_last_day_of_period() -> None:
    assert is_charged(date(2025, 1, 1), date(2025, 2, 28), FEB)


def test_is_charged_not_when_end_is_before_last_day_of_period() -> None:
    assert not is_charged(date(2025, 1, 1), date(2025, 2, 27), FEB)


def test_is_charged_when_coverage_is_open_ended() -> None:
    assert is_charged(date(2024, 6, 1), None, Period(2030, 1))
