"""Billing period value `YYYY-MM` (CONTRACT.md, transport)."""

from __future__ import annotations

from datetime import date

import pytest

from jamsos.domain.period import Period


def test_period_parse_reads_year_and_month() -> None:
    assert Period.parse("2025-02") == Period(2025, 2)


@pytest.mark.parametrize(
    "text", ["2025-13", "2025-00", "2025-2", "25-02", "2025/02", "2025-02-01", " 2025-02", ""]
)
def test_period_parse_of_malformed_text_raises_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        Period.parse(text)


def test_period_with_month_13_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        Period(2025, 13)


def test_period_str_is_zero_padded_year_month() -> None:
    assert str(Period(2025, 3)) == "2025-03"


def test_period_compact_is_yyyymm() -> None:
    assert Period(2025, 3).compact == "202503"


def test_period_of_date_is_its_month() -> None:
    assert Period.of(date(2025, 1, 31)) == Period(2025, 1)


def test_period_first_day_is_the_first() -> None:
    assert Period(2025, 2).first_day == date(2025, 2, 1)


@pytest.mark.parametrize(
    ("period", "last"),
    [
        (Period(2025, 2), date(2025, 2, 28)),
        (Period(2024, 2), date(2024, 2, 29)),
        (Period(2025, 4), date(2025, 4, 30)),
        (Period(2025, 12), date(2025, 12, 31)),
    ],
)
def test_period_last_day_is_the_end_of_the_month(period: Period, last: date) -> None:
    assert period.last_day == last


def test_period_next_of_december_is_january_of_next_year() -> None:
    assert Period(2025, 12).next() == Period(2026, 1)


def test_period_previous_of_january_is_december_of_last_year() -> None:
    assert Period(2025, 1).previous() == Period(2024, 12)


def test_period_orders_chronologically() -> None:
    assert sorted([Period(2025, 1), Period(2024, 12), Period(2025, 2)]) == [
        Period(2024, 12),
        Period(2025, 1),
        Period(2025, 2),
    ]
