"""Deterministic identities: event ids are uuid5 of their cause (CONTRACT.md, transport)."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f1d7c1e-3a55-4b0e-9a57-4a5d2b1f0c19")


def event_id(kind: str, *cause: str) -> uuid.UUID:
    """The event id for an event of `kind` caused by `cause` (the input's identity)."""
    return uuid.uuid5(NAMESPACE, "\x1f".join((kind, *cause)))


def membership_no(serial: int) -> str:
    """Membership number from the participant's serial: KDS- and nine digits."""
    return f"KDS-{serial:09d}"
