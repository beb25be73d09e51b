"""Worker names are normalised: every run of whitespace is one space, none at either end."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from jamsos_schemas.registration import Worker

WORKER = {
    "nik": "3319014506900001",
    "birth_date": "1990-06-05",
    "sex": "F",
    "address": {"village_code": "3319012001"},
    "occupation": "pedagang pasar",
}
NAMES = [
    "Siti Aminah",
    "  Siti \t Aminah\n",
    "Siti\u00a0\u00a0Aminah",  # no-break spaces
    "Siti\u3000Aminah\u2028",  # ideographic space, line separator
    "Siti\x1c\x1dAminah\x1f",  # the separators str.isspace counts as whitespace
    "Sïtî  Ämînah",
]


@pytest.mark.parametrize("name", NAMES)
def test_full_name_whitespace_runs_fold_to_one_space(name: str) -> None:
    folded = Worker.model_validate_json(json.dumps({**WORKER, "full_name": name}))
    assert folded.full_name == re.sub(r"\s+", " ", name).strip()


@pytest.mark.parametrize("blank", ["", " ", "\t\n", "\u00a0\u3000"])
def test_full_name_of_only_whitespace_is_refused(blank: str) -> None:
    with pytest.raises(ValidationError):
        Worker.model_validate_json(json.dumps({**WORKER, "full_name": blank}))
