"""An outbox event's value is exactly the contract model's `model_dump_json`, as UTF-8."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from jamsos.usecases.rows import OutboxEvent
from jamsos_schemas.registration import (
    Reason,
    ReasonCode,
    RegistrationAcceptedV1,
    RegistrationRejectedV1,
    RegistrationSubmittedV1,
)

AT = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
WORKER = {
    "nik": "3319014506900001",
    "full_name": "Sïtî  Ämînah",
    "birth_date": "1990-06-05",
    "sex": "F",
    "address": {"village_code": "3319012001", "street": 'Jl. É "4"'},
    "occupation": "pedagang pasar",
    "desil": 2,
}
SUBMISSION = RegistrationSubmittedV1.model_validate_json(
    json.dumps(
        {
            "submission_id": "S-1",
            "agency_code": "DISDAG",
            "submitted_at": "2026-12-02T09:00:00+07:00",
            "worker": WORKER,
        }
    )
)


def test_outbox_event_value_is_the_models_json_dump_in_utf8() -> None:
    eid = uuid.uuid4()
    models = [
        RegistrationAcceptedV1(event_id=eid, received_at=AT, submission=SUBMISSION),
        RegistrationRejectedV1(
            event_id=eid,
            submission_id="S-1",
            agency_code="DISDAG",
            nik="3319014506900001",
            decided_at=AT,
            reasons=[Reason(code=ReasonCode.NIK_INVALID, detail="serial part is 0000 ☹")],
        ),
    ]
    for model in models:
        event = OutboxEvent.of("t", "k", model, eid)
        assert event.value == model.model_dump_json().encode("utf-8")
