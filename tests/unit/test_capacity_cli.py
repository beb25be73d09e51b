"""`jamsos ops capacity recount`'s everyday mistakes: one error line or the usage, no traceback."""

from __future__ import annotations

from pathlib import Path

from tests.unit.test_agency_signatures import in_process


def test_recount_without_a_database_says_which_variable_to_set(tmp_path: Path) -> None:
    code, output = in_process(tmp_path, "ops", "capacity", "recount")
    assert code == 2
    assert output.startswith("error: JAMSOS_DATABASE_URL not set"), output


def test_recount_with_an_unknown_option_prints_the_usage(tmp_path: Path) -> None:
    code, output = in_process(tmp_path, "ops", "capacity", "recount", "--dry-run")
    assert code == 2 and "No such option: --dry-run" in output and "Usage:" in output
