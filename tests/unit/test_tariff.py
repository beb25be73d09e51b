"""Effective-dated tariff lookup (RULES.md; PP 44/2015 as amended; CONTRACT.md accrual)."""

from __future__ import annotations

from datetime import date

import pytest

from jamsos.domain.period import Period
from jamsos.domain.tariff import TARIFF_2025, Tariff, tariff_on

TARIFF_2026 = Tariff(date(2026, 1, 1), jkk=12_000, jkm=7_000)  # made up, for the lookup


def test_tariff_2025_total_is_16800() -> None:
    assert TARIFF_2025.total == 16_800


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 1), TARIFF_2025),
        (date(2025, 12, 31), TARIFF_2025),
        (date(2026, 1, 1), TARIFF_2026),
        (date(2030, 6, 1), TARIFF_2026),
    ],
)
def test_tariff_on_day_is_latest_in_force(day: date, expected: Tariff) -> None:
    assert tariff_on([TARIFF_2026, TARIFF_2025], day) == expected


def test_tariff_on_day_before_first_raises_lookup_error() -> None:
    with pytest.raises(LookupError, match="2024-12-31"):
        tariff_on([TARIFF_2025, TARIFF_2026], date(2024, 12, 31))


def test_tariff_on_empty_table_raises_lookup_error() -> None:
    with pytest.raises(LookupError):
        tariff_on([], date(2025, 1, 1))


def test_tariff_changing_mid_month_applies_from_next_period() -> None:
    mid_month = Tariff(date(2026, 1, 15), jkk=12_000, jkm=7_000)
    tariffs = [TARIFF_2025, mid_month]
    charged = [tariff_on(tariffs, p.first_day) for p in (Period(2026, 1), Period(2026, 2))]
    assert charged == [TARIFF_2025, mid_month]
