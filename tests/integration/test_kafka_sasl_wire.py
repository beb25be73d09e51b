"""The Kafka clients built from JAMSOS_KAFKA_* settings really authenticate with SCRAM on the
wire. tansu has no SASL and no SASL broker runs here, so a fake broker answers just enough of
the protocol (ApiVersions, SaslHandshake v0) to receive each client's SCRAM-SHA-512 handshake
and its first SCRAM message (`n,,n=USER,r=NONCE`), then hangs up. What this does not prove: a
full SCRAM exchange and the ACLs against apache/kafka (see README, "Kafka security")."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from jamsos.adapters.kafka import client_security, make_broker, make_producer, wait_for_broker
from jamsos.adapters.kafka_admin import topic_offsets
from jamsos.settings import Settings, load_settings
from jamsos_schemas import topics

pytestmark = pytest.mark.integration

API_VERSIONS, SASL_HANDSHAKE = 18, 17


def _string(data: bytes, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from(">h", data, at)
    return data[at + 2 : at + 2 + n].decode(), at + 2 + n


class FakeSaslBroker:
    """Records the SASL mechanism and the first SCRAM message of every connection."""

    def __init__(self) -> None:
        self.mechanisms: list[str] = []
        self.first_messages: list[bytes] = []

    async def _frame(self, reader: asyncio.StreamReader) -> bytes:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        return await reader.readexactly(size)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                request = await self._frame(reader)
                api_key, _, correlation = struct.unpack_from(">hhi", request)
                _, at = _string(request, 8)  # client id
                if api_key == API_VERSIONS:  # v0: only ApiVersions and SaslHandshake v0
                    body = struct.pack(">hi", 0, 2) + struct.pack(">hhh", 18, 0, 0)
                    body += struct.pack(">hhh", 17, 0, 0)
                elif api_key == SASL_HANDSHAKE:
                    mechanism, _ = _string(request, at)
                    self.mechanisms.append(mechanism)
                    name = mechanism.encode()
                    body = struct.pack(">hih", 0, 1, len(name)) + name
                else:
                    break
                reply = struct.pack(">i", correlation) + body
                writer.write(struct.pack(">i", len(reply)) + reply)
                await writer.drain()
                if api_key == SASL_HANDSHAKE:  # v0: the SASL tokens follow, size-prefixed
                    self.first_messages.append(await self._frame(reader))
                    break
        writer.close()


@contextlib.asynccontextmanager
async def fake_broker() -> AsyncIterator[tuple[FakeSaslBroker, str]]:
    fake = FakeSaslBroker()
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield fake, f"127.0.0.1:{port}"
    finally:
        server.close()


def _settings(tmp_path: Path, bootstrap: str) -> Settings:
    env = {
        "JAMSOS_KAFKA_BOOTSTRAP": bootstrap,
        "JAMSOS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "JAMSOS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "JAMSOS_KAFKA_SASL_USERNAME": "jamsos-registration",
        "JAMSOS_KAFKA_SASL_PASSWORD": "pw",
    }
    return load_settings(env=env, cwd=tmp_path)


async def _producer(settings: Settings) -> None:
    producer = make_producer(settings, "wire-test")
    try:
        await producer.start()
    finally:
        await producer.stop()


async def _broker(settings: Settings) -> None:
    broker = make_broker(settings, "wire-test")
    try:
        await broker.connect()
    finally:
        await broker.stop()


async def _admin(settings: Settings) -> None:
    bootstrap = settings.kafka_bootstrap or ""
    await wait_for_broker(bootstrap, 3, client_security(settings.kafka_security))


async def _consumer(settings: Settings) -> None:
    security = client_security(settings.kafka_security)
    await topic_offsets(settings.kafka_bootstrap or "", [topics.DLQ], security)


@pytest.mark.parametrize(
    "client",
    [_producer, _broker, _admin, _consumer],
    ids=["relay-producer", "faststream-broker", "admin", "ops-consumer"],
)
async def test_client_opens_a_scram_sha_512_handshake_as_the_configured_user(
    tmp_path: Path, client: Callable[[Settings], Awaitable[None]]
) -> None:
    async with fake_broker() as (fake, bootstrap):
        with contextlib.suppress(Exception):  # the fake hangs up after the first message
            await asyncio.wait_for(client(_settings(tmp_path, bootstrap)), 5)
    assert fake.mechanisms and set(fake.mechanisms) == {"SCRAM-SHA-512"}
    assert fake.first_messages
    assert fake.first_messages[0].startswith(b"n,,n=jamsos-registration,r=")
