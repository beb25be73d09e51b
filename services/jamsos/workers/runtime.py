"""What every service's handlers need, filled in by the composition root at startup."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg

from jamsos.domain.coverage import JAKARTA
from jamsos.settings import Settings

T = TypeVar("T")
log = logging.getLogger(__name__)


def jakarta_now() -> dt.datetime:
    """The current time in Asia/Jakarta (events carry this offset)."""
    return dt.datetime.now(JAKARTA)


@dataclass
class Runtime:
    """Settings plus the resources opened in the app's lifespan (the pool)."""

    settings: Settings
    clock: Callable[[], dt.datetime] = jakarta_now
    _pool: asyncpg.Pool | None = field(default=None, repr=False)

    @property
    def pool(self) -> asyncpg.Pool:
        """The database pool; only valid while the app runs."""
        if self._pool is None:
            raise RuntimeError("the database pool is not open")
        return self._pool

    def open(self, pool: asyncpg.Pool) -> None:
        """Attach the pool opened at startup."""
        self._pool = pool


async def pause_on_failure(work: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `work`; when the database or network fails, pause before letting the error through.

    The error still propagates, so the batch is not acknowledged and Kafka redelivers it;
    the pause keeps an outage from becoming a hot redelivery loop.
    """
    try:
        return await work()
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
        log.warning("%s failed (%s); the batch will be redelivered", what, error)
        await asyncio.sleep(1.0)
        raise
