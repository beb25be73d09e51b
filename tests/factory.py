"""Builders of contract payloads for tests."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from jamsos.workers.runtime import jakarta_now

CONTRACT_EXAMPLE: dict[str, Any] = {
    "submission_id": "DISDAG-2025-000123",
    "agency_code": "DISDAG",
    "submitted_at": "2025-01-15T09:30:00+07:00",
    "worker": {
        "nik": "3319014506900001",
        "full_name": "Siti Aminah",
        "birth_date": "1990-06-05",
        "sex": "F",
        "phone": "+6281234567890",
        "address": {"village_code": "3319012001", "street": "Jl. Sunan Muria 4 RT 02 RW 01"},
        "occupation": "pedagang pasar",
        "dtsen_id": None,
        "desil": 1,
        "monthly_income": 1500000,
    },
}


def submission(**changes: Any) -> dict[str, Any]:
    """The contract's example submission with top-level or `worker__field` changes."""
    payload = copy.deepcopy(CONTRACT_EXAMPLE)
    for name, value in changes.items():
        if name.startswith("worker__"):
            payload["worker"][name.removeprefix("worker__")] = value
        else:
            payload[name] = value
    return payload


def aged(years: int, month: int, day: int) -> dt.date:
    """The birth date, on `month`/`day`, of someone `years` old today (Asia/Jakarta).

    For rows that go through `jamsos submit`: it stamps them with today, and eligibility judges
    the age on that day. A fixed birth year would cross the age rule (18-65) in some later
    year, and the test would no longer test what it says; choose ages away from 18 and 65.
    """
    today = jakarta_now().date()
    born = dt.date(today.year - years, month, day)
    return born if (month, day) <= (today.month, today.day) else born.replace(year=born.year - 1)
