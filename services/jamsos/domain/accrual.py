"""Who is charged for period P, and how much: the reference implementation of accrual.

Source: CONTRACT.md, "Coverage and premium accrual": a participant is charged for P iff
`coverage_start <= first day of P` and (`coverage_end` is null or `>= last day of P`), at the
tariff in force on the first day of P; over all invoices of a period each participant is
charged exactly once. The billing service runs the same rule as one SQL statement
(adapters/accrual.py); an integration test checks both agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

from jamsos.domain.coverage import is_charged
from jamsos.domain.period import Period
from jamsos.domain.tariff import Tariff, tariff_on


@dataclass(frozen=True)
class CoverageRecord:
    """One coverage period of a membership as the billing ledger knows it.

    `payer_code` is None while only the termination of this period has been seen (the
    enrolled event is still on its way); such a record is not billable yet.
    """

    membership_no: str
    coverage_start: date
    coverage_end: date | None
    nik: str
    agency_code: str | None = None
    payer_code: str | None = None
    funding_source: str | None = None

    @property
    def complete(self) -> bool:
        """Whether the enrolment (payer, agency, funding source) is known."""
        return (
            self.payer_code is not None
            and self.agency_code is not None
            and self.funding_source is not None
        )


@dataclass(frozen=True)
class Charge:
    """One participant's premium for one period."""

    membership_no: str
    period: Period
    coverage_start: date
    nik: str
    agency_code: str
    payer_code: str
    funding_source: str
    jkk: int
    jkm: int

    @property
    def amount(self) -> int:
        """JKK + JKM, whole Rupiah."""
        return self.jkk + self.jkm


def covering(records: Iterable[CoverageRecord], period: Period) -> dict[str, CoverageRecord]:
    """The billable record covering all of `period`, per membership (the latest start wins)."""
    result: dict[str, CoverageRecord] = {}
    for record in records:
        if not record.complete or not is_charged(
            record.coverage_start, record.coverage_end, period
        ):
            continue
        current = result.get(record.membership_no)
        if current is None or record.coverage_start > current.coverage_start:
            result[record.membership_no] = record
    return result


def accrue(
    records: Iterable[CoverageRecord],
    period: Period,
    tariffs: Iterable[Tariff],
    already_charged: Collection[str] = (),
) -> list[Charge]:
    """Charges for `period` of every covered membership not in `already_charged`, by number."""
    tariff = tariff_on(tariffs, period.first_day)
    charges: list[Charge] = []
    for number, record in sorted(covering(records, period).items()):
        if number in already_charged:
            continue
        assert record.agency_code and record.payer_code and record.funding_source  # complete
        charges.append(
            Charge(
                membership_no=number,
                period=period,
                coverage_start=record.coverage_start,
                nik=record.nik,
                agency_code=record.agency_code,
                payer_code=record.payer_code,
                funding_source=record.funding_source,
                jkk=tariff.jkk,
                jkm=tariff.jkm,
            )
        )
    return charges


def to_credit(
    records: Iterable[CoverageRecord], period: Period, charged: Collection[str]
) -> list[str]:
    """Memberships charged for `period` that no coverage covers any more (sorted)."""
    covered = covering(records, period)
    return sorted(number for number in charged if number not in covered)
