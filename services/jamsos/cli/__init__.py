"""`jamsos …` commands: parse arguments, call bootstrap or a use case, print."""

from __future__ import annotations

import logging

# Importing the command modules registers their commands (help order follows the imports).
from jamsos.cli.common import app
from jamsos.cli.services import up  # noqa: F401  (registers commands)

# isort: split
from jamsos.cli import dlq, ops, participant, report, review, submit  # noqa: F401

# isort: split
from jamsos.cli import billing, demo  # noqa: F401

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    app()
