"""Reading a consumed value: a JSON object, or the reason it goes to the DLQ; content digests;
pydantic errors as one readable line."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from jamsos.usecases.outcomes import DeadLetterError
from jamsos_schemas.registration import Reason, ReasonCode


def read_object(value: bytes) -> dict[str, Any] | str:
    """The value as a JSON object, or why it cannot be read (a dead-letter error).

    Strict UTF-8 first (json.loads would also take UTF-16/32), and every way json.loads can
    fail on bad input (too-long integers, nesting too deep) is an unreadable message, not an
    error that would make the batch be redelivered forever.
    """
    read = read_text_object(value)
    return read if isinstance(read, str) else read[1]


def read_text_object(value: bytes) -> tuple[str, dict[str, Any]] | str:
    """`read_object`, with the value's text (decoded once)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        return DeadLetterError.UNREADABLE.of(f"not UTF-8 ({error})")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as error:
        return DeadLetterError.UNREADABLE.of(f"not JSON ({str(error)[:200]})")
    if "\\u0000" in text:  # PostgreSQL cannot store NUL in text or jsonb
        return DeadLetterError.UNREADABLE.of("contains the NUL character (\\u0000)")
    if not isinstance(payload, dict):
        return DeadLetterError.UNREADABLE.of("the value is not a JSON object")
    return text, payload


# json.dumps with these options builds a new encoder per call; one encoder, the same output
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(payload: dict[str, Any]) -> str:
    """Digest of the canonical JSON (sorted keys, no whitespace): re-serialising the same
    content gives the same digest."""
    return hashlib.sha256(_CANONICAL.encode(payload).encode("utf-8")).hexdigest()


def submission_digest(payload: dict[str, Any]) -> str:
    """A submission's content identity: its canonical JSON without `submitted_at`.

    `submitted_at` says when it was sent, not what was sent: the same worker re-sent later under
    the same (agency_code, submission_id) is a resubmission, not SUBMISSION_ID_REUSED.
    """
    return content_hash({k: v for k, v in payload.items() if k != "submitted_at"})


def value_digest(value: bytes) -> str:
    """Digest of the bytes as received (the same bytes always give the same digest)."""
    return hashlib.sha256(value).hexdigest()


def schema_reasons(error: ValidationError) -> list[Reason]:
    """Every field error of a submission as one SCHEMA_INVALID reason (a rejection)."""
    return [Reason(code=ReasonCode.SCHEMA_INVALID, detail=field_errors(error))]


def schema_error(error: ValidationError) -> str:
    """Every field error of a command or event as a SCHEMA_INVALID dead-letter error."""
    return DeadLetterError.SCHEMA_INVALID.of(field_errors(error))


def field_errors(error: ValidationError) -> str:
    """Every field error of a validation, `path: message; …`."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
    )
