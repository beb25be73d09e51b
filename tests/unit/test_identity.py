"""Deterministic identities and the ordering of a participant's timestamps."""

from __future__ import annotations

import datetime as dt

from jamsos.domain.identity import after_event, event_id, membership_no

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


def test_membership_number_has_nine_digits() -> None:
    assert membership_no(42) == "KDS-000000042"


def test_after_event_keeps_now_when_it_is_later() -> None:
    assert after_event(T, T + dt.timedelta(seconds=1)) == T + dt.timedelta(seconds=1)


def test_after_event_from_a_clock_running_behind_is_just_after_the_previous() -> None:
    assert after_event(T, T - dt.timedelta(seconds=5)) == T + dt.timedelta(microseconds=1)
    assert after_event(T, T) == T + dt.timedelta(microseconds=1)


def test_after_event_without_previous_is_now() -> None:
    assert after_event(None, T) == T
