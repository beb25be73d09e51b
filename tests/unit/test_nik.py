"""NIK structure and consistency (RULES.md NIK section; CONTRACT.md NIK_INVALID, NIK_MISMATCH)."""

from __future__ import annotations

from datetime import date

import pytest

from jamsos.domain.nik import NikParts, nik_reasons, parse_nik
from jamsos_schemas.registration import Reason, ReasonCode


def nik(region: str = "331901", ddmmyy: str = "050690", serial: str = "0001") -> str:
    """A NIK assembled from its parts."""
    return region + ddmmyy + serial


def codes(reasons: list[Reason]) -> list[ReasonCode]:
    return [reason.code for reason in reasons]


def test_nik_of_valid_man_has_no_reasons() -> None:
    assert nik_reasons(nik(ddmmyy="050690"), date(1990, 6, 5), "M") == []


def test_nik_of_valid_woman_has_no_reasons() -> None:
    assert nik_reasons(nik(ddmmyy="450690"), date(1990, 6, 5), "F") == []


def test_nik_with_day_plus_40_reads_as_female() -> None:
    assert parse_nik("3319014506900001") == NikParts(
        province="33",
        regency="19",
        district="01",
        day=5,
        month=6,
        yy=90,
        serial="0001",
        female=True,
    )


def test_nik_with_plain_day_reads_as_male() -> None:
    parts = parse_nik("3319010506900001")
    assert parts is not None
    assert (parts.day, parts.female) == (5, False)


@pytest.mark.parametrize("value", ["331901050690001", "33190105069000012", "33190105069O0001", ""])
def test_nik_parse_of_non_16_digits_is_none(value: str) -> None:
    assert parse_nik(value) is None


def test_nik_born_29_february_2000_is_valid() -> None:
    assert nik_reasons(nik(ddmmyy="290200"), date(2000, 2, 29), "M") == []


def test_nik_born_29_february_in_non_leap_yy_is_invalid() -> None:
    # YY=01 is 1901 or 2001, neither a leap year.
    reasons = nik_reasons(nik(ddmmyy="290201"), date(2001, 3, 1), "M")
    assert reasons[0].code is ReasonCode.NIK_INVALID
    assert "does not exist" in reasons[0].detail


def test_nik_born_29_february_of_woman_in_leap_yy_is_valid() -> None:
    assert nik_reasons(nik(ddmmyy="690296"), date(1996, 2, 29), "F") == []


def test_nik_born_31_april_is_invalid() -> None:
    reasons = nik_reasons(nik(ddmmyy="310490"), date(1990, 4, 30), "M")
    assert codes(reasons)[0] is ReasonCode.NIK_INVALID


def test_nik_with_serial_0000_is_invalid() -> None:
    reasons = nik_reasons(nik(serial="0000"), date(1990, 6, 5), "M")
    assert reasons == [Reason(code=ReasonCode.NIK_INVALID, detail="serial part is 0000")]


@pytest.mark.parametrize(
    ("region", "part"),
    [("001901", "province"), ("330001", "regency"), ("331900", "district")],
)
def test_nik_with_zero_region_part_is_invalid(region: str, part: str) -> None:
    reasons = nik_reasons(nik(region=region), date(1990, 6, 5), "M")
    assert reasons == [Reason(code=ReasonCode.NIK_INVALID, detail=f"{part} code is 00")]


def test_nik_with_month_13_is_invalid() -> None:
    reasons = nik_reasons(nik(ddmmyy="051390"), date(1990, 6, 5), "M")
    assert reasons[0].code is ReasonCode.NIK_INVALID
    assert "month 13" in reasons[0].detail


@pytest.mark.parametrize("dd", ["00", "32", "40", "72"])
def test_nik_with_impossible_day_is_invalid(dd: str) -> None:
    reasons = nik_reasons(nik(ddmmyy=f"{dd}0690"), date(1990, 6, 5), "M")
    assert reasons[0].code is ReasonCode.NIK_INVALID
    assert f"day {dd}" in reasons[0].detail


def test_nik_with_several_problems_gives_one_invalid_reason_with_all_details() -> None:
    reasons = nik_reasons("0000009913900000", date(1990, 6, 5), "M")
    invalid = [reason for reason in reasons if reason.code is ReasonCode.NIK_INVALID]
    assert len(invalid) == 1
    assert invalid[0].detail.count("; ") == 5


@pytest.mark.parametrize("value", ["331901050690001", "33190105069O0001", "3319 0105069 0001"])
def test_nik_not_16_digits_is_invalid_without_mismatch(value: str) -> None:
    reasons = nik_reasons(value, date(1990, 6, 5), "F")
    assert reasons == [Reason(code=ReasonCode.NIK_INVALID, detail="NIK must be exactly 16 digits")]


@pytest.mark.parametrize(
    "birth_date",
    [date(1990, 6, 6), date(1990, 7, 5)],
    ids=["day", "month"],
)
def test_nik_date_part_differing_from_birth_date_is_mismatch(birth_date: date) -> None:
    reasons = nik_reasons(nik(ddmmyy="050690"), birth_date, "M")
    assert codes(reasons) == [ReasonCode.NIK_MISMATCH]


def test_nik_year_differing_from_birth_year_is_mismatch() -> None:
    reasons = nik_reasons(nik(ddmmyy="050690"), date(1991, 6, 5), "M")
    assert codes(reasons) == [ReasonCode.NIK_MISMATCH]


def test_nik_year_in_other_century_is_consistent() -> None:
    # The NIK carries only YY, so it is compared with the birth year modulo 100.
    assert nik_reasons(nik(ddmmyy="050605"), date(2005, 6, 5), "M") == []


@pytest.mark.parametrize(("ddmmyy", "sex"), [("450690", "M"), ("050690", "F")])
def test_nik_sex_marker_differing_from_sex_is_mismatch(ddmmyy: str, sex: str) -> None:
    reasons = nik_reasons(nik(ddmmyy=ddmmyy), date(1990, 6, 5), sex)
    assert codes(reasons) == [ReasonCode.NIK_MISMATCH]
    assert f"sex is {sex}" in reasons[0].detail


def test_nik_mismatch_on_date_and_sex_is_one_reason_with_both_details() -> None:
    reasons = nik_reasons(nik(ddmmyy="450690"), date(1991, 6, 5), "M")
    assert codes(reasons) == [ReasonCode.NIK_MISMATCH]
    assert len(reasons[0].detail.split("; ")) == 2


def test_nik_invalid_and_mismatch_are_both_reported_in_order() -> None:
    reasons = nik_reasons(nik(ddmmyy="450690", serial="0000"), date(1990, 6, 5), "M")
    assert codes(reasons) == [ReasonCode.NIK_INVALID, ReasonCode.NIK_MISMATCH]


def test_nik_issued_outside_kudus_is_valid() -> None:
    # Kota Semarang (33.74): the prefix records where the NIK was issued, not domicile.
    assert nik_reasons(nik(region="337401"), date(1990, 6, 5), "M") == []
