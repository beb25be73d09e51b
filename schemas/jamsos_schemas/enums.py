"""Enumerations of the contract that need no pydantic: the CLI declares its options with them
without loading the event models (jamsos.cli). The models' modules re-export them."""

from __future__ import annotations

from enum import StrEnum


class TerminationReason(StrEnum):
    """Why coverage ends (CONTRACT.md, termination-requested)."""

    DECEASED = "DECEASED"
    MOVED_OUT = "MOVED_OUT"
    FORMAL_EMPLOYMENT = "FORMAL_EMPLOYMENT"
    WITHDRAWN = "WITHDRAWN"
