"""`jamsos keys generate` as a clerk runs it: a subprocess, files on disk, one `error:` line
on stderr when it would overwrite (the key handling itself: tests/unit/test_agency_signatures.py).
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import clean_env

pytestmark = pytest.mark.e2e


def jamsos(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jamsos", *args],
        env=clean_env(JAMSOS_STATE_DIR=str(tmp_path / "state")),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_keys_generate_writes_a_key_pair_and_refuses_to_overwrite_in_one_line(
    tmp_path: Path,
) -> None:
    done = jamsos(tmp_path, "keys", "generate", "--agency", "disdag", "--out", "out")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "out" / "DISDAG.key").stat().st_mode) == 0o600
    assert (tmp_path / "out" / "DISDAG.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = jamsos(tmp_path, "keys", "generate", "--agency", "DISDAG", "--out", "out")
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        "error: out/DISDAG.key exists: it is not overwritten (move it away first)"
    ]
