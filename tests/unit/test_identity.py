"""Deterministic identities and the ordering of a participant's timestamps."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

from jamsos.domain.identity import NAMESPACE, after_event, event_id, membership_no
from jamsos.usecases.reading import content_hash

T = dt.datetime(2025, 1, 20, 10, 0, tzinfo=dt.UTC)


def test_event_id_is_the_same_for_the_same_cause() -> None:
    assert event_id("enrolled", "DISDAG", "1") == event_id("enrolled", "DISDAG", "1")


def test_event_id_differs_by_kind_and_cause() -> None:
    ids = {
        event_id("enrolled", "DISDAG", "1"),
        event_id("rejected", "DISDAG", "1"),
        event_id("enrolled", "DISDAG", "2"),
        event_id("enrolled", "DISDAG1", ""),
    }
    assert len(ids) == 4


def test_event_id_is_the_standard_uuid5_of_its_cause() -> None:
    """The inline computation gives exactly uuid.uuid5 (the ids published before it)."""
    for kind, *cause in [
        ("accepted", "DISDAG", "DISDAG-2025-000123"),
        ("enrolled", "DINSOS", "é-ü-\u4e2d"),
        ("rejected", "", ""),
        ("dlq", "registration.submitted.v1", "0", "12345"),
    ]:
        assert event_id(kind, *cause) == uuid.uuid5(NAMESPACE, "\x1f".join((kind, *cause)))
    # a fixed id, as published: it must never change
    assert event_id("accepted", "DISDAG", "1") == uuid.uuid5(NAMESPACE, "accepted\x1fDISDAG\x1f1")


def test_content_hash_is_the_digest_of_json_dumps_canonical() -> None:
    """The shared encoder gives what json.dumps with the canonical options gave."""
    payload = {"b": [1, 2.5, None, True], "a": {"z": "é\u4e2d", "y": '\n"x'}, "c": 10**20}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(payload) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_membership_number_has_nine_digits() -> None:
    assert membership_no(42) == "KDS-000000042"


def test_after_event_keeps_now_when_it_is_later() -> None:
    assert after_event(T, T + dt.timedelta(seconds=1)) == T + dt.timedelta(seconds=1)


def test_after_event_from_a_clock_running_behind_is_just_after_the_previous() -> None:
    assert after_event(T, T - dt.timedelta(seconds=5)) == T + dt.timedelta(microseconds=1)
    assert after_event(T, T) == T + dt.timedelta(microseconds=1)


def test_after_event_without_previous_is_now() -> None:
    assert after_event(None, T) == T
