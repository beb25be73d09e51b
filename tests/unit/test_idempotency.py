"""Sorting a batch into fresh, repeated and reused messages."""

from __future__ import annotations

from jamsos.usecases.idempotency import firsts, sort_batch

Msg = tuple[str, str]  # (identity, content)


def sort(batch: list[Msg], new: set[str], stored: dict[str, str]):  # type: ignore[no-untyped-def]
    first = firsts(batch, lambda m: m[0])
    return sort_batch(batch, lambda m: m[0], lambda m: m[1], first, new, stored)


def test_first_occurrence_of_a_new_identity_is_fresh() -> None:
    result = sort([("a", "x")], new={"a"}, stored={})
    assert result.fresh == [("a", "x")] and not result.repeated and not result.reused


def test_repeat_within_the_batch_with_same_content_is_repeated() -> None:
    result = sort([("a", "x"), ("a", "x")], new={"a"}, stored={})
    assert result.fresh == [("a", "x")] and result.repeated == [("a", "x")]


def test_repeat_within_the_batch_with_other_content_is_reused() -> None:
    result = sort([("a", "x"), ("a", "y")], new={"a"}, stored={})
    assert result.reused == [("a", "y")]


def test_identity_seen_before_with_same_content_is_repeated() -> None:
    assert sort([("a", "x")], new=set(), stored={"a": "x"}).repeated == [("a", "x")]


def test_identity_seen_before_with_other_content_is_reused() -> None:
    assert sort([("a", "y")], new=set(), stored={"a": "x"}).reused == [("a", "y")]
