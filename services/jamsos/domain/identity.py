"""Deterministic identities: event ids are uuid5 of their cause (CONTRACT.md, transport)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

NAMESPACE = uuid.UUID("6f1d7c1e-3a55-4b0e-9a57-4a5d2b1f0c19")
_NAMESPACE_BYTES = NAMESPACE.bytes


def event_id(kind: str, *cause: str) -> uuid.UUID:
    """The event id for an event of `kind` caused by `cause` (the input's identity).

    Exactly `uuid.uuid5(NAMESPACE, name)` (RFC 4122 version 5: SHA-1 of the namespace's bytes
    and the UTF-8 name), computed inline: one or two per message on the hot path, and
    `uuid.uuid5` costs half again as much (tests/unit/test_identity.py holds them equal).
    """
    name = "\x1f".join((kind, *cause)).encode("utf-8")
    digest = hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()
    return uuid.UUID(bytes=digest[:16], version=5)


def membership_no(serial: int) -> str:
    """Membership number from the participant's serial: KDS- and nine digits."""
    return f"KDS-{serial:09d}"


def after_event(previous: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """`now`, or just after `previous` if a clock running behind would put it earlier.

    The billing ledger orders a participant's enrolments and terminations by these
    timestamps; they are stamped by different processes, perhaps on different hosts, so each
    is made strictly later than the participant's previous one.
    """
    if previous is None or now > previous:
        return now
    return previous + dt.timedelta(microseconds=1)
