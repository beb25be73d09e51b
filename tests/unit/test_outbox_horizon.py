"""The outbox sweeper's horizon (adapters/relay.Horizon): pure bookkeeping of max(id) samples."""

from __future__ import annotations

from jamsos.adapters.relay import EVERY_ID, Horizon


def test_no_horizon_until_a_sample_is_grace_old() -> None:
    h = Horizon(grace=2.0)
    assert h.up_to(0.0) == EVERY_ID
    h.sample(10.0, 500)
    assert h.up_to(11.9) == EVERY_ID
    assert h.up_to(12.0) == 500


def test_the_horizon_is_the_newest_sample_at_least_grace_old() -> None:
    h = Horizon(grace=2.0)
    for at, highest in [(0.0, 100), (1.0, 200), (2.0, 300), (3.0, 400)]:
        h.sample(at, highest)
    assert h.up_to(4.5) == 300  # the sample of 2.0 is 2.5 s old, the one of 3.0 only 1.5 s
    assert h.up_to(5.0) == 400
    assert h.up_to(100.0) == 400  # no newer sample: it stays


def test_the_horizon_never_moves_back() -> None:
    h = Horizon(grace=1.0)
    h.sample(0.0, 900)
    h.sample(1.0, None)  # the outbox emptied (a purge): max(id) is NULL
    h.sample(2.0, 40)
    assert h.up_to(2.0) == 900
    assert h.up_to(10.0) == 900


def test_an_empty_outbox_gives_horizon_zero_once_grace_old() -> None:
    h = Horizon(grace=1.0)
    h.sample(0.0, None)
    assert h.up_to(0.5) == EVERY_ID
    assert h.up_to(1.0) == 0
