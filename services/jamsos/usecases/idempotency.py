"""Sorting a batch against what was processed before: new, repeated, or the same identity
reused for other content (CONTRACT.md: re-delivery changes nothing; reuse goes to the DLQ)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True)
class Sorted(Generic[T]):
    """A batch's messages after their identities were claimed."""

    fresh: list[T]  # first occurrence of an identity claimed just now: process it
    repeated: list[T]  # same identity and content as before: nothing to do
    reused: list[T]  # same identity, other content: a dead letter


def firsts(items: Iterable[T], key: Callable[[T], K]) -> dict[K, T]:
    """The first message of each identity, in batch order (these are claimed)."""
    out: dict[K, T] = {}
    for item in items:
        out.setdefault(key(item), item)
    return out


def sort_batch(
    items: Iterable[T],
    key: Callable[[T], K],
    digest: Callable[[T], str],
    first: Mapping[K, T],
    new: set[K],
    stored: Mapping[K, str],
) -> Sorted[T]:
    """Sort `items` given the identities just claimed (`new`) and the content digests stored
    earlier for the others (`stored`); a repeat within the batch compares to its first."""
    fresh: list[T] = []
    repeated: list[T] = []
    reused: list[T] = []
    taken: set[K] = set()
    for item in items:
        k = key(item)
        if k in new and k not in taken:  # the first occurrence, as `firsts` chose it
            taken.add(k)
            fresh.append(item)
        elif stored.get(k, digest(first[k])) == digest(item):
            repeated.append(item)
        else:
            reused.append(item)
    return Sorted(fresh, repeated, reused)
