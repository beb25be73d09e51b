"""`jamsos` starts quickly: declaring the commands (importing jamsos.cli, and every command's
--help) loads none of the heavy libraries. A command imports what it runs on in its own body
(the rule in jamsos/cli/__init__.py), so each call pays only for what it uses."""

from __future__ import annotations

import json
import subprocess
import sys

# What a command may import when it runs, never while the commands are declared.
HEAVY = (
    "aiokafka",
    "asyncpg",
    "cryptography",
    "faststream",
    "fpdf",
    "openpyxl",
    "prometheus_client",
    "pydantic",
    "rapidfuzz",
    "starlette",
    "uvicorn",
    "jamsos.adapters.db",
    "jamsos.bootstrap",
    "jamsos.workers",
)

# Imports jamsos.cli (which declares every command), prints some commands' --help (click's
# test runner, in this process; the root callback runs for a sub-command's help), then the
# modules it loaded as one JSON list. Run in a fresh interpreter: this one has imported
# everything already.
_PROBE = """
import json, sys
from typer.testing import CliRunner
from jamsos.cli import app

if sys.argv[1] == "help":
    for path in ([], ["ops", "health"], ["submit"], ["terminate"], ["invoice", "pay"]):
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
print(json.dumps(sorted(sys.modules)))
"""


def _loaded(what: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, what], capture_output=True, text=True, check=True
    ).stdout
    modules: list[str] = json.loads(out)
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_cli_loads_no_heavy_library() -> None:
    assert _loaded("import") == []


def test_commands_help_loads_no_heavy_library() -> None:
    assert _loaded("help") == []
