"""Deterministic identities: event ids are uuid5 of their cause (CONTRACT.md, transport)."""

from __future__ import annotations

import datetime as dt
import uuid

NAMESPACE = uuid.UUID("6f1d7c1e-3a55-4b0e-9a57-4a5d2b1f0c19")


def event_id(kind: str, *cause: str) -> uuid.UUID:
    """The event id for an event of `kind` caused by `cause` (the input's identity)."""
    return uuid.uuid5(NAMESPACE, "\x1f".join((kind, *cause)))


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
