"""The audit log's actions, in a module of their own: `jamsos ops audit --action` lists them in
its help without loading the rows' models (jamsos.cli). usecases/rows.py re-exports it."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """What an audit entry records (migration 0009_audit.sql)."""

    REVIEW_ENROL = "review.enrol"
    REVIEW_DUPLICATE = "review.duplicate"
    INVOICE_PAY = "invoice.pay"
    DLQ_REPLAY = "dlq.replay"
    DLQ_DISCARD = "dlq.discard"
    OUTBOX_RETRY = "outbox.retry"
    CAPACITY_RECOUNT = "capacity.recount"  # migration 0017
