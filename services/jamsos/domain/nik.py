"""NIK structure and consistency checks → NIK_INVALID, NIK_MISMATCH.

Sources: RULES.md, section "NIK" (16 digits: province 2, regency 2, district 2, birth date
DDMMYY with DD + 40 for women, serial 4 from 0001) and the reason table of CONTRACT.md.
The region prefix is not checked against Kudus: it records where the NIK was first issued.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from jamsos_schemas.registration import Reason, ReasonCode

_FEMALE_OFFSET = 40


@dataclass(frozen=True)
class NikParts:
    """The fields of a 16-digit NIK, read but not validated (see `nik_reasons`)."""

    province: str
    regency: str
    district: str
    day: int  # the real day of birth: DD, or DD - 40 for women
    month: int
    yy: int
    serial: str
    female: bool

    @property
    def raw_day(self) -> int:
        """DD as written in the NIK (day + 40 for women)."""
        return self.day + _FEMALE_OFFSET if self.female else self.day


def parse_nik(nik: str) -> NikParts | None:
    """The parts of `nik`, or None unless it is exactly 16 ASCII digits."""
    if not _is_16_digits(nik):
        return None
    raw_day = int(nik[6:8])
    female = raw_day > _FEMALE_OFFSET
    return NikParts(
        province=nik[0:2],
        regency=nik[2:4],
        district=nik[4:6],
        day=raw_day - _FEMALE_OFFSET if female else raw_day,
        month=int(nik[8:10]),
        yy=int(nik[10:12]),
        serial=nik[12:16],
        female=female,
    )


def nik_reasons(nik: str, birth_date: date, sex: str) -> list[Reason]:
    """NIK_INVALID and/or NIK_MISMATCH for `nik` against the submitted birth date and sex."""
    parts = parse_nik(nik)
    if parts is None:
        return [Reason(code=ReasonCode.NIK_INVALID, detail="NIK must be exactly 16 digits")]
    reasons: list[Reason] = []
    invalid = _invalid_details(parts)
    if invalid:
        reasons.append(Reason(code=ReasonCode.NIK_INVALID, detail="; ".join(invalid)))
    mismatch = _mismatch_details(parts, birth_date, sex)
    if mismatch:
        reasons.append(Reason(code=ReasonCode.NIK_MISMATCH, detail="; ".join(mismatch)))
    return reasons


def _is_16_digits(nik: str) -> bool:
    return len(nik) == 16 and nik.isascii() and nik.isdigit()


def _invalid_details(parts: NikParts) -> list[str]:
    details = [
        f"{name} code is 00"
        for name, code in (
            ("province", parts.province),
            ("regency", parts.regency),
            ("district", parts.district),
        )
        if code == "00"
    ]
    day_ok = 1 <= parts.day <= 31  # DD 01-31 for men, 41-71 for women
    month_ok = 1 <= parts.month <= 12
    if not day_ok:
        details.append(f"date part day {parts.raw_day:02d} is not 01-31 (men) or 41-71 (women)")
    if not month_ok:
        details.append(f"date part month {parts.month:02d} is not 01-12")
    if day_ok and month_ok and not _exists_in_some_century(parts):
        details.append(
            f"date part {parts.day:02d}-{parts.month:02d} does not exist "
            f"in 19{parts.yy:02d} or 20{parts.yy:02d}"
        )
    if parts.serial == "0000":
        details.append("serial part is 0000")
    return details


def _exists_in_some_century(parts: NikParts) -> bool:
    return any(
        parts.day <= calendar.monthrange(century + parts.yy, parts.month)[1]
        for century in (1900, 2000)
    )


def _mismatch_details(parts: NikParts, birth_date: date, sex: str) -> list[str]:
    details: list[str] = []
    nik_date = (parts.day, parts.month, parts.yy)
    if nik_date != (birth_date.day, birth_date.month, birth_date.year % 100):
        details.append(
            f"date part reads day {parts.day:02d} month {parts.month:02d} year ..{parts.yy:02d}"
            f" but birth_date is {birth_date.isoformat()}"
        )
    nik_sex = "F" if parts.female else "M"
    if sex != nik_sex:
        marker = "day + 40 (a woman)" if parts.female else "no day + 40 (a man)"
        details.append(f"date part has {marker} but sex is {sex}")
    return details
