"""`jamsos.dlq.v1`: a message that could not be parsed or processed, kept whole."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from jamsos_schemas.registration import EventId


class DeadLetterV1(BaseModel):
    """The original bytes (base64) and where they came from, with a specific error."""

    model_config = ConfigDict(frozen=True)

    event_id: EventId
    source_topic: str
    partition: int
    offset: int
    key: Annotated[
        str | None,
        Field(description="original key as UTF-8 text, or `base64:` and its base64 if not text"),
    ]
    value_b64: Annotated[str, Field(description="the original value bytes, base64")]
    error: Annotated[
        str,
        Field(
            examples=[
                "SUBMISSION_ID_REUSED: same (agency_code, submission_id) with different content"
            ]
        ),
    ]
    failed_at: AwareDatetime
