"""Records above JAMSOS_MAX_MESSAGE_BYTES: which ones, and that a replay of their dead letter
(which keeps only a prefix) is refused. The path through a running service is
tests/integration/test_oversized_messages.py."""

from __future__ import annotations

from pathlib import Path

from jamsos.adapters.kafka import dlq_message_bytes, make_producer
from jamsos.cli.dlq import _refusal
from jamsos.settings import load_settings
from jamsos.usecases.deadletters import oversized
from jamsos.usecases.messages import Message


def test_default_limit_is_kafkas_default_message_size_and_configurable(tmp_path: Path) -> None:
    assert load_settings(env={}, cwd=tmp_path).max_message_bytes == 1_048_576
    env = {"JAMSOS_MAX_MESSAGE_BYTES": "2048"}
    assert load_settings(env=env, cwd=tmp_path).max_message_bytes == 2048


def test_key_and_value_together_count_against_the_limit() -> None:
    fits = Message("t", 0, 0, b"k" * 10, b"v" * 90)
    over = Message("t", 0, 1, b"k" * 11, b"v" * 90)
    bare = Message("t", 0, 2, None, b"v" * 101)
    assert oversized([fits, over, bare], 100) == ([fits], [over, bare])


async def test_producers_may_send_the_dead_letter_of_a_record_at_the_limit(tmp_path: Path) -> None:
    settings = load_settings(env={"JAMSOS_KAFKA_BOOTSTRAP": "k:9092"}, cwd=tmp_path)
    # base64 of 1 MiB is 1,398,104 bytes; the event adds its position and error
    assert dlq_message_bytes(settings.max_message_bytes) > 4 * settings.max_message_bytes // 3
    producer = make_producer(settings, "test")
    assert producer._max_request_size == dlq_message_bytes(settings.max_message_bytes)


def test_replaying_a_message_too_large_letter_is_refused() -> None:
    row = {"error": "MESSAGE_TOO_LARGE: 3000000 bytes, more than JAMSOS_MAX_MESSAGE_BYTES=1"}
    refusal = _refusal(row, None, "0123456789abcdef")
    assert refusal is not None and refusal.startswith("not replayed: MESSAGE_TOO_LARGE")
    assert "jamsos ops dlq discard 01234567" in refusal
