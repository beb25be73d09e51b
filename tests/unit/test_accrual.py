"""Accrual: who is charged for a period, and how much (CONTRACT.md, coverage and accrual)."""

from __future__ import annotations

from datetime import date

from jamsos.domain.accrual import CoverageRecord, accrue, covering, to_credit
from jamsos.domain.period import Period
from jamsos.domain.tariff import TARIFF_2025, Tariff

FEB = Period(2025, 2)
TARIFFS = [TARIFF_2025]


def cover(
    number: str,
    start: date,
    end: date | None = None,
    *,
    agency: str = "DISDAG",
    payer: str | None = "PEMKAB-KUDUS",
) -> CoverageRecord:
    return CoverageRecord(
        number,
        start,
        end,
        "3319014506900001",
        agency if payer else None,
        payer,
        "DBHCHT" if payer else None,
    )


def charged(records: list[CoverageRecord], period: Period = FEB) -> list[str]:
    return [c.membership_no for c in accrue(records, period, TARIFFS)]


def test_coverage_from_first_of_period_is_charged() -> None:
    assert charged([cover("A", date(2025, 2, 1))]) == ["A"]


def test_coverage_starting_after_first_of_period_is_not_charged() -> None:
    assert charged([cover("A", date(2025, 3, 1))]) == []


def test_coverage_ending_on_last_day_of_period_is_charged() -> None:
    assert charged([cover("A", date(2025, 1, 1), date(2025, 2, 28))]) == ["A"]


def test_coverage_ending_before_last_day_of_period_is_not_charged() -> None:
    assert charged([cover("A", date(2025, 1, 1), date(2025, 2, 27))]) == []


def test_coverage_ended_before_it_began_is_never_charged() -> None:
    records = [cover("A", date(2025, 2, 1), date(2025, 1, 31))]
    assert [charged(records, Period(2025, m)) for m in (1, 2, 3)] == [[], [], []]


def test_coverage_without_known_enrolment_is_not_billable_yet() -> None:
    assert charged([cover("A", date(2025, 1, 1), payer=None)]) == []


def test_overlapping_periods_of_one_membership_charge_it_once_under_latest_start() -> None:
    records = [
        cover("A", date(2025, 1, 1), date(2025, 2, 28), agency="DISDAG"),
        cover("A", date(2025, 2, 1), agency="DINSOS"),
    ]
    [charge] = accrue(records, FEB, TARIFFS)
    assert (charge.membership_no, charge.agency_code, charge.coverage_start) == (
        "A",
        "DINSOS",
        date(2025, 2, 1),
    )


def test_charge_amount_is_tariff_in_force_on_first_day_of_period() -> None:
    tariff_2026 = Tariff(date(2026, 1, 1), jkk=12_000, jkm=7_000)
    records = [cover("A", date(2025, 11, 1))]
    dec, jan = (
        accrue(records, p, [TARIFF_2025, tariff_2026])[0]
        for p in (Period(2025, 12), Period(2026, 1))
    )
    assert (dec.jkk, dec.jkm, dec.amount) == (10_000, 6_800, 16_800)
    assert (jan.jkk, jan.jkm, jan.amount) == (12_000, 7_000, 19_000)


def test_already_charged_memberships_are_not_charged_again() -> None:
    records = [cover("A", date(2025, 1, 1)), cover("B", date(2025, 1, 1))]
    assert [c.membership_no for c in accrue(records, FEB, TARIFFS, {"A"})] == ["B"]


def test_charges_no_longer_covered_are_to_be_credited() -> None:
    records = [cover("A", date(2025, 1, 1), date(2025, 1, 31)), cover("B", date(2025, 1, 1))]
    assert to_credit(records, FEB, {"A", "B", "C"}) == ["A", "C"]


def test_covering_picks_one_record_per_membership() -> None:
    records = [cover("A", date(2025, 1, 1), date(2025, 2, 28)), cover("A", date(2025, 2, 1))]
    assert list(covering(records, FEB)) == ["A"]
