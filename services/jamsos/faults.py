"""Fault injection for the crash tests, inert in production: only when JAMSOS_FAULT names a
step boundary does the process end there, with os._exit (no cleanup, no offset commit, no
flush), the way a SIGKILL or a power cut would.

JAMSOS_FAULT is `POINT[@PART][:N]`: crash the Nth time (default 1st) `POINT` is reached by
`PART` (a consumer group such as `verification`, or `relay`; default any). Points:
- `consume.mid-batch`: half of a batch committed, the rest not decided;
- `consume.after-commit`: the batch's effects and outbox rows committed, its offset not;
- `relay.before-publish`: outbox rows claimed, nothing sent;
- `relay.after-publish`: events sent, the rows not marked published;
- `relay.after-mark`: the rows marked published, the next round not begun.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

EXIT_CODE = 86  # how a test tells the injected crash from any other exit


@dataclass
class Fault:
    """The configured crash point (none: never crashes)."""

    spec: str | None = None
    _reached: int = field(default=0, repr=False)

    def reach(self, point: str, part: str) -> None:
        """Crash here when this is the configured point (and part), the Nth time."""
        if self.spec is None:
            return
        where, _, nth = self.spec.partition(":")
        wanted, _, wanted_part = where.partition("@")
        if wanted != point or (wanted_part and wanted_part != part):
            return
        self._reached += 1
        if self._reached >= int(nth or 1):
            os._exit(EXIT_CODE)

    def wants(self, point: str, part: str) -> bool:
        """Whether `point` of `part` is the configured one (to set up a mid-batch crash)."""
        if self.spec is None:
            return False
        wanted, _, wanted_part = self.spec.partition(":")[0].partition("@")
        return wanted == point and (not wanted_part or wanted_part == part)
