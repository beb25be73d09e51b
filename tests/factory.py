"""Builders of contract payloads for tests."""

from __future__ import annotations

import copy
from typing import Any

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
