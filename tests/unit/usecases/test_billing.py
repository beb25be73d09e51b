"""The billing ledger and billing runs on the fake store.

Accrual and credit are set-based SQL in production; the fake computes them with the domain rule
(domain/accrual.py), so these tests cover what a run decides around them (run identity,
tariff, invoice kinds and numbers, events); tests/integration/test_billing_usecase.py proves
the SQL charges exactly what the rule says.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from jamsos.domain.identity import event_id
from jamsos.usecases import billing
from jamsos.usecases.billing import record_coverage, run_billing
from jamsos_schemas import topics
from jamsos_schemas.participant import ParticipantEnrolledV1
from tests.fakes import FakeUnitOfWork
from tests.unit.usecases.support import NOW, message

COVERED = dict(membership_no="KDS-000000001", coverage_start="2025-02-01",
               nik="3319014506900001", agency_code="DISDAG")  # fmt: skip


def enrolled(**changes: Any) -> dict[str, Any]:
    body = {**COVERED, "event_id": str(event_id("enrolled", "DISDAG", "S-1")),
            "submission_id": "S-1", "decided_at": "2025-01-20T10:00:00+07:00",
            "enrolled_at": "2025-01-20T10:00:00+07:00", "programs": ["JKK", "JKM"],
            "monthly_premium": {"JKK": 10000, "JKM": 6800, "total": 16800},
            "payer_code": "PEMKAB-KUDUS", "funding_source": "DBHCHT",
            "worker": {"nik": COVERED["nik"], "full_name": "Siti Aminah",
                       "birth_date": "1990-06-05", "sex": "F", "phone": None,
                       "address": {"village_code": "3319012001", "street": None},
                       "occupation": "pedagang pasar", "dtsen_id": None, "desil": 1,
                       "monthly_income": 1500000}}  # fmt: skip
    return {**body, **changes}


def terminated(coverage_end: str) -> dict[str, Any]:
    return {**COVERED, "event_id": str(event_id("terminated", "T-1")), "request_id": "T-1",
            "reason": "MOVED_OUT", "effective_date": coverage_end, "status": "TERMINATED",
            "coverage_end": coverage_end, "decided_at": "2025-01-25T10:00:00+07:00"}  # fmt: skip


def run(period: str, request_id: str) -> Any:
    body = {"request_id": request_id, "period": period, "requested_at": NOW.isoformat()}
    return message(body, topics.BILLING_RUN_REQUESTED)


async def ledger() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    await record_coverage(uow, [message(enrolled(), topics.ENROLLED)], NOW)
    return uow


async def test_ledger_records_an_enrolment_once_per_event_id() -> None:
    uow = FakeUnitOfWork()
    event = message(enrolled(), topics.ENROLLED)
    first = await record_coverage(uow, [event, event], NOW)
    again = await record_coverage(uow, [event], NOW)
    assert (first.new, first.repeated, again.new, again.repeated) == (1, 1, 0, 1)
    assert list(uow.state.coverage) == [("KDS-000000001", dt.date(2025, 2, 1))]


async def test_ledger_event_without_event_id_is_a_dead_letter() -> None:
    uow = FakeUnitOfWork()
    body = enrolled()
    del body["event_id"]
    await record_coverage(uow, [message(body, topics.ENROLLED)], NOW)
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("UNREADABLE: ")
    assert uow.state.coverage == {}


def test_ledger_reads_each_of_its_fields_as_the_contract_model_does() -> None:
    """The tolerant reader's fields are the model's own: same type, format and constraints."""
    reader = billing._ENROLLED.json_schema()
    model = ParticipantEnrolledV1.model_json_schema()
    assert set(reader["required"]) == set(billing.ENROLLED_FIELDS)
    for name in billing.ENROLLED_FIELDS:
        assert reader["properties"][name] == model["properties"][name], name
    assert billing._ENROLLED.core_schema["type"] == "typed-dict"
    assert ParticipantEnrolledV1.model_config.get("strict") is None  # both lax, as JSON reads


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("nik", "33190145069", "SCHEMA_INVALID: nik: String should match pattern"),
        ("coverage_start", "2025-02-30", "SCHEMA_INVALID: coverage_start: "),
        ("enrolled_at", "2025-01-20T10:00:00", "SCHEMA_INVALID: enrolled_at: Input should have"),
        ("payer_code", None, "SCHEMA_INVALID: payer_code: Input should be a valid string"),
        ("event_id", "not-a-uuid", "SCHEMA_INVALID: event_id: Input should be a valid UUID"),
        ("agency_code", "", "SCHEMA_INVALID: agency_code: String should have at least 1"),
    ],
)
async def test_enrolled_event_with_a_field_the_ledger_records_malformed_is_a_dead_letter(
    field: str, value: Any, error: str
) -> None:
    uow = FakeUnitOfWork()
    summary = await record_coverage(
        uow, [message(enrolled(**{field: value}), topics.ENROLLED)], NOW
    )
    assert summary.counts == {"DLQ": 1}
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith(error)
    assert uow.state.coverage == {}
    assert ParticipantEnrolledV1.model_validate_json(json.dumps(enrolled())) is not None


async def test_enrolled_event_malformed_only_where_the_ledger_does_not_read_is_recorded() -> None:
    uow = FakeUnitOfWork()
    body = enrolled(worker={"nik": 1}, programs="none", monthly_premium=None)
    summary = await record_coverage(uow, [message(body, topics.ENROLLED)], NOW)
    assert summary.counts == {"ENROLLED": 1, "DLQ": 0}
    assert list(uow.state.coverage) == [("KDS-000000001", dt.date(2025, 2, 1))]


async def test_ledger_keeps_the_latest_enrolment_of_a_period_in_a_batch_and_after() -> None:
    uow = FakeUnitOfWork()
    early = message(enrolled(enrolled_at="2025-01-20T10:00:00+07:00"), topics.ENROLLED)
    late = message(enrolled(event_id=str(event_id("enrolled", "DINSOS", "S-2")),
                            enrolled_at="2025-01-21T09:00:00+07:00", agency_code="DINSOS"),
                   topics.ENROLLED)  # fmt: skip
    first = await record_coverage(uow, [late, early, late], NOW)
    assert (first.new, first.repeated, first.counts["ENROLLED"]) == (2, 1, 2)
    again = await record_coverage(uow, [early], NOW)
    assert (again.new, again.repeated) == (0, 1)
    row = uow.state.coverage[("KDS-000000001", dt.date(2025, 2, 1))]
    assert (row["agency_code"], row["enrolled_at"]) == (
        "DINSOS", dt.datetime(2025, 1, 21, 2, tzinfo=dt.UTC),
    )  # fmt: skip


async def test_run_bills_each_covered_participant_on_one_regular_invoice() -> None:
    uow = await ledger()
    summary = await run_billing(uow, [run("2025-02", "r-1")], NOW)
    [invoice] = uow.state.events(topics.INVOICE_ISSUED)
    assert summary.counts == {"ISSUED": 1}
    assert (invoice["invoice_no"], invoice["kind"]) == ("JMS-PEMKAB-KUDUS-202502-01", "REGULAR")
    assert invoice["totals"] == {"participants": 1, "jkk": 10000, "jkm": 6800, "amount": 16800}


async def test_run_of_unchanged_period_issues_nothing_new() -> None:
    uow = await ledger()
    await run_billing(uow, [run("2025-02", "r-1")], NOW)
    summary = await run_billing(uow, [run("2025-02", "r-2")], NOW)
    assert summary.counts == {"NOTHING_NEW": 1}
    assert len(uow.state.events(topics.INVOICE_ISSUED)) == 1


async def test_run_request_redelivered_is_repeated_and_reused_id_is_a_dead_letter() -> None:
    uow = await ledger()
    await run_billing(uow, [run("2025-02", "r-1")], NOW)
    summary = await run_billing(uow, [run("2025-02", "r-1"), run("2025-03", "r-1")], NOW)
    assert summary.counts == {"REPEATED": 1, "DLQ": 1}
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("REQUEST_ID_REUSED: ")


async def test_run_for_a_period_without_tariff_fails_with_a_dead_letter() -> None:
    uow = await ledger()
    summary = await run_billing(uow, [run("2024-06", "r-old")], NOW)
    assert summary.counts == {"FAILED": 1}
    assert uow.state.runs["r-old"]["outcome"] == "FAILED"
    [letter] = uow.state.events(topics.DLQ)
    assert letter["error"].startswith("NO_TARIFF: ")


async def test_termination_before_a_billed_month_credits_it_on_a_credit_note() -> None:
    uow = await ledger()
    await run_billing(uow, [run("2025-03", "r-1")], NOW)
    await record_coverage(uow, [message(terminated("2025-02-28"), topics.TERMINATED)], NOW)
    await run_billing(uow, [run("2025-03", "r-2")], NOW)
    credit = uow.state.events(topics.INVOICE_ISSUED)[-1]
    assert (credit["invoice_no"], credit["kind"]) == ("JMS-PEMKAB-KUDUS-202503-02", "CREDIT")
    assert credit["totals"]["amount"] == -16800
