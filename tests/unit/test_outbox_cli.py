"""`jamsos ops outbox retry` refuses an ambiguous request before it looks for a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_agency_signatures import in_process


@pytest.mark.parametrize("args", [(), ("7", "--all")])
def test_retry_needs_either_ids_or_all(tmp_path: Path, args: tuple[str, ...]) -> None:
    code, output = in_process(tmp_path, "ops", "outbox", "retry", *args)

    assert (code, output) == (2, "error: name the row ids to retry, or --all (not both)")
