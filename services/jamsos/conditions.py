"""Waiting out outages: backoff with jitter, and the process's conditions (what keeps it from
working; /health reports them as `processing`; each change is logged once, not every retry)."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: attempt n waits between half and all of
    min(cap, initial * 2**n) seconds (jitter keeps restarted processes out of step)."""

    initial: float
    cap: float

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first)."""
        ceiling = min(self.cap, self.initial * 2.0 ** min(attempt, 30))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass
class Conditions:
    """What keeps this process from doing its work right now, by part (a consumer group, the
    relay, startup). Each change is logged once, not every retry."""

    troubles: dict[str, str] = field(default_factory=dict)
    _since: dict[str, float] = field(default_factory=dict)

    def fail(self, part: str, reason: str) -> None:
        """`part` cannot work, because of `reason` (logged when `part` was working)."""
        known = part in self.troubles
        self.troubles[part] = reason  # the latest reason for /health; the log has the first
        if not known:
            self._since[part] = time.monotonic()
            log.warning("%s: %s; retrying until it recovers", part, reason)

    def stop(self, part: str, reason: str) -> None:
        """`part` stopped for good (until the process is restarted)."""
        self.troubles[part] = f"stopped: {reason}"
        log.error("%s stopped: %s", part, reason)

    def recover(self, part: str) -> None:
        """`part` works again (logged when it was in trouble)."""
        if self.troubles.pop(part, None) is not None:
            seconds = time.monotonic() - self._since.pop(part, time.monotonic())
            log.warning("%s: recovered after %.1f s", part, seconds)
