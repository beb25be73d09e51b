"""A wheel install (not editable, no source tree) can migrate a fresh database."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import asyncpg
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (
        f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def _fresh_venv(tmp_path: Path) -> Path:
    """A venv holding only the jamsos wheel; its dependencies come from this venv's
    site-packages (appended after its own, so the wheel's jamsos wins): nothing downloaded."""
    # From a clean copy of the sources (a build/ left in the worktree would leak stale files
    # into the wheel), the way `pip install .` builds: an isolated build env from the
    # configured index, as the editable install of `make` does.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for tree in ("services", "schemas"):
        shutil.copytree(ROOT / tree, source / tree, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, source, cwd=tmp_path)
    [wheel] = dist.glob("jamsos-*.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q", wheel,
         cwd=tmp_path)  # fmt: skip
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                     cwd=tmp_path).strip())  # fmt: skip
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


async def test_wheel_install_migrates_a_fresh_database(tmp_path: Path, empty_database: str) -> None:
    venv = _fresh_venv(tmp_path)
    work = tmp_path / "elsewhere"  # no source tree around: only the installed package
    work.mkdir()
    location = _run(
        venv / "bin" / "python", "-c", "import jamsos; print(jamsos.__file__)", cwd=work
    )
    assert Path(location.strip()).is_relative_to(venv), "jamsos was not imported from the wheel"

    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "JAMSOS_DATABASE_URL": empty_database,
        "JAMSOS_STATE_DIR": str(tmp_path / "state"),
    }
    out = _run(venv / "bin" / "jamsos", "db", "migrate", cwd=work, env=env)

    assert "0001_registration" in out
    conn = await asyncpg.connect(empty_database)
    try:
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    finally:
        await conn.close()
    shipped = sorted(p.stem for p in (ROOT / "services" / "jamsos" / "migrations").glob("*.sql"))
    assert sorted(versions) == shipped
    assert {"submissions", "participants", "invoices", "outbox"} <= tables
