"""Kudus kecamatan and villages from the packaged data/kudus_wilayah.csv (SOURCE.md)."""

from __future__ import annotations

import pytest

from jamsos.domain.wilayah import Village, find_village, kecamatan, villages


def test_wilayah_has_132_villages() -> None:
    assert len(villages()) == 132


def test_wilayah_has_9_kecamatan() -> None:
    assert len(kecamatan()) == 9


def test_wilayah_kecamatan_names_match_rules() -> None:
    assert set(kecamatan().values()) == {
        "Kaliwungu",
        "Kota Kudus",
        "Jati",
        "Undaan",
        "Mejobo",
        "Jekulo",
        "Bae",
        "Gebog",
        "Dawe",
    }


def test_wilayah_kelurahan_are_9_all_in_kota_kudus() -> None:
    kelurahan = [village for village in villages().values() if village.kind == "kelurahan"]
    assert len(kelurahan) == 9
    assert {village.kecamatan_code for village in kelurahan} == {"331902"}


def test_wilayah_desa_code_is_found_with_its_kecamatan() -> None:
    assert find_village("3319012001") == Village(
        code="3319012001",
        name="Bakalankrapyak",
        kecamatan_code="331901",
        kecamatan_name="Kaliwungu",
        kind="desa",
    )


def test_wilayah_kelurahan_code_has_kind_kelurahan() -> None:
    village = find_village("3319021001")
    assert village is not None
    assert village.kind == "kelurahan"


@pytest.mark.parametrize(
    "code",
    ["3319999999", "3374011001", "33.19.01.2001", "331901", ""],
    ids=["unknown-kudus", "semarang", "dotted", "kecamatan", "empty"],
)
def test_wilayah_code_not_a_kudus_village_is_not_found(code: str) -> None:
    assert find_village(code) is None


def test_wilayah_codes_are_undotted_10_digits() -> None:
    assert all(len(code) == 10 and code.isdigit() for code in villages())
