"""Effective-dated monthly premium tariff for BPU participants paid by the regency.

Source: RULES.md and PP 44/2015 as amended (PP 82/2019, PP 49/2023): JKK for BPU is 1% of
declared income with a minimum of Rp10,000, JKM is Rp6,800 flat. The regency pays the minimum
JKK bracket, Rp16,800 a month in all (CONTRACT.md; Antara, 15 January 2025). The amount
charged for a period is the tariff in force on its first day (CONTRACT.md, accrual).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Tariff:
    """Monthly premium per participant in whole Rupiah, in force from `effective_from`."""

    effective_from: date
    jkk: int
    jkm: int

    @property
    def total(self) -> int:
        """JKK + JKM."""
        return self.jkk + self.jkm


TARIFF_2025 = Tariff(date(2025, 1, 1), jkk=10_000, jkm=6_800)


def tariff_on(tariffs: Iterable[Tariff], day: date) -> Tariff:
    """The tariff with the latest `effective_from` on or before `day`; LookupError if none."""
    in_force = [tariff for tariff in tariffs if tariff.effective_from <= day]
    if not in_force:
        raise LookupError(f"no tariff is in force on {day.isoformat()}")
    return max(in_force, key=lambda tariff: tariff.effective_from)
