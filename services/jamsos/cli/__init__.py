"""`jamsos …` commands: parse arguments, call bootstrap or a use case, print.

Start-up: every call imports all the command modules (typer needs every command for the help
and to find the one called), so a command module imports at its top only what declaring its
commands takes: typer, rich, the standard library, jamsos.settings, cli/common.py and
cli/errors.py, and light values its options name (jamsos_schemas.enums, the domain's
periods). What a command runs on (adapters, bootstrap, use cases, workers, and with them
asyncpg, aiokafka, FastStream, pydantic, openpyxl, fpdf) is imported at the top of the
function that uses it, and names needed only in annotations under `TYPE_CHECKING`. A call then
pays only for what it uses: `jamsos --help` loads no driver, `jamsos ops health` no FastStream
or openpyxl. tests/unit/test_cli_imports.py holds the rule.
"""

from __future__ import annotations

import logging
import sys

from jamsos.adapters import logs

# Importing the command modules registers their commands (help order follows the imports).
from jamsos.cli.common import app
from jamsos.cli.services import up  # noqa: F401  (registers commands)

# isort: split
from jamsos.cli import (  # noqa: F401
    audit,
    capacity,
    dashboard,
    dlq,
    health,
    ops,
    outbox,
    participant,
    report,
    review,
    submit,
    terminate,
)

# isort: split
from jamsos.cli import bench, billing, demo  # noqa: F401

# isort: split
from jamsos.cli import kafka, keys  # noqa: F401
from jamsos.cli.errors import explain, print_failure

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point."""
    logs.configure(logging.WARNING)  # masked lines (NIK, phone), see adapters/logs.py
    # aiokafka logs every failed connection attempt; the failure itself is reported below as
    # one line. Running services turn its warnings back on once they are up (`_serve`).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        app()
    except Exception as error:
        failure = explain(error)
        if failure is None:
            raise
        print_failure(failure)
        sys.exit(failure.code)
