"""`jamsos ops capacity recount`: set drifted capacity counters back to the active participants
of their scope (`jamsos reconcile` reports the drift), audited in the same transaction."""

from __future__ import annotations

import datetime as dt

from jamsos.usecases.ports import CapacityStore, UnitOfWork
from jamsos.usecases.rows import AuditAction, AuditEntry, CapacityChange


async def recount(
    uow: UnitOfWork[CapacityStore], actor: str, now: dt.datetime
) -> list[CapacityChange]:
    """Recount every counter under its row lock (adapters/capacity.recount); the counters that
    changed, recorded as one `capacity.recount` audit entry. Nothing drifted: nothing changes
    and nothing is audited."""
    async with uow.transaction() as store:
        changes = await store.recount_capacity()
        if changes:
            detail = {"changes": [{"scope": c.scope, "before": c.before, "after": c.after}
                                  for c in changes]}  # fmt: skip
            await store.add_audit(
                [AuditEntry(actor, AuditAction.CAPACITY_RECOUNT, "capacity", detail=detail)], now
            )
    return changes
