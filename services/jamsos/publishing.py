"""Publishing commands and submissions from the operator's side (CLI, demo, agency tools)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from pydantic import BaseModel

from jamsos.adapters.kafka import make_producer
from jamsos.settings import Settings
from jamsos_schemas import topics

# A message's Kafka headers as a function of its value bytes (signatures are over the value).
HeadersOf = Callable[[bytes], Sequence[tuple[str, bytes]]]


def submission_key(payload: object) -> bytes | None:
    """The contract key of a submission: the worker's NIK, when there is one."""
    if isinstance(payload, dict) and isinstance(payload.get("worker"), dict):
        nik = payload["worker"].get("nik")
        if isinstance(nik, str):
            return nik.encode("utf-8")
    return None


async def publish_raw(
    settings: Settings,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes]],
    acknowledged: Callable[[int], None] | None = None,
    headers: HeadersOf | None = None,
) -> int:
    """Publish (key, value) byte pairs and wait for every acknowledgement; `acknowledged` is
    told how many are acknowledged so far (for a progress bar). `headers` gives each message's
    Kafka headers from its value (an agency's `Signer.headers` signs them)."""
    producer = make_producer(settings, "jamsos-cli")
    try:
        await producer.start()
        pending = [
            await producer.send(
                topic, value, key=key, headers=None if headers is None else list(headers(value))
            )
            for key, value in messages
        ]
        for done, future in enumerate(pending, 1):
            await future
            if acknowledged is not None:
                acknowledged(done)
        return len(pending)
    finally:
        await producer.stop()


async def publish_submissions(
    settings: Settings, payloads: Sequence[object], headers: HeadersOf | None = None
) -> int:
    """Publish submission payloads (dicts or models) keyed by NIK."""
    messages = []
    for payload in payloads:
        body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
        messages.append((submission_key(body), json.dumps(body).encode("utf-8")))
    return await publish_raw(settings, topics.SUBMITTED, messages, headers=headers)


async def publish_model(
    settings: Settings, topic: str, key: str, model: BaseModel, headers: HeadersOf | None = None
) -> None:
    """Publish one contract model."""
    value = model.model_dump_json().encode()
    await publish_raw(settings, topic, [(key.encode(), value)], headers=headers)
