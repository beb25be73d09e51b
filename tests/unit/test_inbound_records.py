"""Consumer records become `Message`s as they were: every field, headers only when a record has
them (a header without a value as b""), an absent value as b""; a `Message` cannot be changed."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord

from jamsos.adapters.kafka import inbound
from jamsos.usecases.deadletters import oversized
from jamsos.usecases.messages import Message


def record(
    offset: int, key: bytes | None, value: bytes | None, headers: tuple = ()
) -> ConsumerRecord:
    return ConsumerRecord("participant.enrolled", 2, offset, 0, 0, key, value, None, 0, 0, headers)


def test_records_become_messages_with_every_field() -> None:
    records = [
        record(7, b"k", b"v"),
        record(8, None, None),
        record(
            9, b"k2", b"v2", (("x-agency", b"DISDAG"), ("x-empty", None), ("x-agency", b"BPBD"))
        ),
    ]
    assert inbound(records) == [
        Message("participant.enrolled", 2, 7, b"k", b"v", ()),
        Message("participant.enrolled", 2, 8, None, b"", ()),
        Message(
            "participant.enrolled",
            2,
            9,
            b"k2",
            b"v2",
            (("x-agency", b"DISDAG"), ("x-empty", b""), ("x-agency", b"BPBD")),
        ),
    ]
    last = inbound(records)[2]
    assert last.header("x-agency") == b"BPBD" and last.header("x-empty") == b""
    assert last.header("missing") is None
    assert all(type(v) is bytes for _, v in last.headers)


def test_a_message_cannot_be_changed() -> None:
    message = Message("t", 0, 1, b"k", b"value")
    with pytest.raises(AttributeError):
        message.value = b"other"  # type: ignore[misc]
    shorter = message._replace(value=b"val")
    assert shorter == Message("t", 0, 1, b"k", b"val") and message.value == b"value"


def test_oversized_keeps_the_batch_order_on_both_sides() -> None:
    batch = [Message("t", 0, n, None, b"x" * size) for n, size in enumerate([5, 20, 3, 30, 10])]
    fits, above = oversized(batch, 10)
    assert [m.offset for m in fits] == [0, 2, 4] and [m.offset for m in above] == [1, 3]
    fits, above = oversized(batch, 100)
    assert fits == batch and fits is not batch and above == []
