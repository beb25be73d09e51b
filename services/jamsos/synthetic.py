"""Synthetic workers with valid NIKs, for the demo, tests and benchmarks (seeded, repeatable)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from jamsos.domain.wilayah import villages

FIRST = [
    "Siti",
    "Ahmad",
    "Dwi",
    "Sri",
    "Budi",
    "Eko",
    "Nur",
    "Agus",
    "Rina",
    "Slamet",
    "Wahyu",
    "Lestari",
    "Muhammad",
    "Fitri",
    "Joko",
    "Ayu",
]
# Middle names make accidental look-alikes (same birth date, sex, village and name) rare.
MIDDLE = [
    "Dewi",
    "Putri",
    "Rahmat",
    "Indah",
    "Adi",
    "Kurnia",
    "Tri",
    "Yuli",
    "Hadi",
    "Sari",
    "Bayu",
    "Nanda",
    "Ari",
    "Wulan",
    "Yoga",
    "Ratna",
    "Dian",
    "Fajar",
    "Intan",
    "Teguh",
]
LAST = [
    "Aminah",
    "Santoso",
    "Rahayu",
    "Wibowo",
    "Hidayat",
    "Susanti",
    "Pratama",
    "Kurniawan",
    "Lestari",
    "Setiawan",
    "Handayani",
    "Saputra",
]
OCCUPATIONS = {
    "DISDAG": "pedagang pasar",
    "DISHUB": "pengemudi ojek",
    "BPBD": "relawan bencana",
    "DINSOS": "buruh harian",
    "DISNAKERPERINKOP": "pelaku UKM",
    "DISPERTANPANGAN": "buruh tani",
}


def nik_for(birth_date: dt.date, sex: str, serial: int, district: str = "331901") -> str:
    """A structurally valid NIK for this birth date and sex (women: day + 40)."""
    day = birth_date.day + (40 if sex == "F" else 0)
    return f"{district}{day:02d}{birth_date.month:02d}{birth_date.year % 100:02d}{serial:04d}"


def worker(
    rng: random.Random, serial: int, on: dt.date, *, age: int | None = None
) -> dict[str, Any]:
    """A valid, eligible worker living in a Kudus village (age 18-65 on `on` unless given)."""
    years = age if age is not None else rng.randint(19, 64)
    birth = on - dt.timedelta(days=years * 365 + years // 4 + rng.randint(1, 300))
    sex = rng.choice("FM")
    village = rng.choice(sorted(villages()))
    district = rng.choice(["331901", "331902", "331905", "337401", "332001"])
    return {
        "nik": nik_for(birth, sex, 1 + serial % 9999, district),
        "full_name": f"{rng.choice(FIRST)} {rng.choice(MIDDLE)} {rng.choice(LAST)}",
        "birth_date": birth.isoformat(),
        "sex": sex,
        "phone": f"+62812{rng.randint(10_000_000, 99_999_999)}",
        "address": {
            "village_code": village,
            "street": f"RT {rng.randint(1, 9):02d} RW 0{rng.randint(1, 9)}",
        },
        "occupation": "pekerja informal",
        "dtsen_id": None,
        "desil": rng.randint(1, 5),
        "monthly_income": rng.randrange(500_000, 3_000_000, 50_000),
    }


def submission(
    agency: str, submission_id: str, person: dict[str, Any], submitted_at: dt.datetime
) -> dict[str, Any]:
    """A `registration.submitted.v1` payload."""
    body = dict(person)
    if "occupation" in body:
        body["occupation"] = OCCUPATIONS.get(agency, body["occupation"])
    return {
        "submission_id": submission_id,
        "agency_code": agency,
        "submitted_at": submitted_at.isoformat(),
        "worker": body,
    }
