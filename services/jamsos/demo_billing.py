"""The billing part of `jamsos demo` (filled in with the billing service)."""

from __future__ import annotations

from rich.console import Console

from jamsos.settings import Settings
from jamsos.workers.runtime import Runtime


async def bill_demo_months(settings: Settings, runtime: Runtime, console: Console) -> None:
    """Bill two consecutive months with a termination and a late enrolment in between."""


async def reconcile_exit_code(settings: Settings, console: Console) -> int:
    """0 when reconciliation finds nothing wrong."""
    return 0
