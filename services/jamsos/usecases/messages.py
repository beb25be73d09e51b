"""What a use case consumes: a message's bytes and where it came from (kept for dead letters),
independent of the client library that read it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """One consumed message as bytes, with its source topic and position (for the DLQ)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> bytes | None:
        """The last value of header `name`, if present."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found
