"""The CLI's lines say what happened, in this process: `jamsos terminate` says it published a
request only once the broker took it; `jamsos asyncapi --out` into a missing folder is one
error line, not a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jamsos.cli.errors import Failure
from tests.conftest import clean_env


def test_terminate_does_not_say_published_when_publishing_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*args: Any, **kwargs: Any) -> None:
        raise Failure("the broker is unreachable")

    monkeypatch.setattr("jamsos.publishing.publish_model", refused)
    from typer.testing import CliRunner

    from jamsos.cli import app

    unset: dict[str, str | None] = {k: None for k in clean_env() if k.startswith("JAMSOS_")}
    env = {
        **unset,
        "JAMSOS_STATE_DIR": str(tmp_path / "state"),
        "JAMSOS_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "JAMSOS_DATABASE_URL": "postgresql://127.0.0.1:1/nothing",
    }
    args = ["terminate", "3319014506900001", "--agency", "DISDAG", "--reason", "DECEASED"]
    result = CliRunner().invoke(app, [*args, "--effective", "2027-01-15"], env=env)
    assert isinstance(result.exception, Failure), result.output
    assert "published" not in result.output  # before: printed before the broker was asked


def test_asyncapi_into_a_missing_folder_is_one_error_line(tmp_path: Path) -> None:
    from tests.unit.test_agency_signatures import in_process

    target = tmp_path / "missing" / "asyncapi.yaml"
    code, line = in_process(tmp_path, "asyncapi", "--out", str(target))
    assert code == 2
    assert line == f"error: --out {target}: cannot write it (No such file or directory)"
