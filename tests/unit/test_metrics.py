"""What a batch committed becomes the contract's metric families, counted once."""

from __future__ import annotations

from jamsos.adapters.metrics import Metrics
from jamsos.usecases.messages import Message
from jamsos.usecases.outcomes import BatchSummary, error_code
from jamsos.usecases.rows import Decision


def _summary() -> BatchSummary:
    summary = BatchSummary(received=4)
    summary.decided(
        [
            Decision("DISDAG", "1", "ENROLLED", membership_no="M1"),
            Decision("DISDAG", "2", "REVIEW"),
            Decision("DISHUB", "3", "DUPLICATE"),
            Decision(
                "DISHUB",
                "4",
                "REJECTED",
                [
                    {"code": "AGE_OUT_OF_RANGE", "detail": ""},
                    {"code": "OUT_OF_REGION", "detail": ""},
                ],
            ),
        ]
    )
    summary.dead_lettered(["SCHEMA_INVALID: worker.nik: too short", "garbage without a code"])
    return summary


def test_summary_counts_decisions_by_status_and_agency_and_reasons_of_rejections() -> None:
    summary = _summary()
    assert summary.outcomes == {
        ("ENROLLED", "DISDAG"): 1,
        ("REVIEW", "DISDAG"): 1,
        ("DUPLICATE", "DISHUB"): 1,
        ("REJECTED", "DISHUB"): 1,
    }
    assert summary.reasons == {"AGE_OUT_OF_RANGE": 1, "OUT_OF_REGION": 1}
    assert summary.dead_letters == {"SCHEMA_INVALID": 1, "OTHER": 1}
    assert summary.counts["DLQ"] == 2


def test_error_code_is_the_leading_contract_code_of_a_dead_letter() -> None:
    assert (
        error_code("SUBMISSION_ID_REUSED: same (agency_code, submission_id)")
        == "SUBMISSION_ID_REUSED"
    )
    assert error_code("PROCESSING_FAILED: ValueError: x") == "PROCESSING_FAILED"
    assert error_code("no usable identity") == "OTHER"


def test_committed_summary_feeds_outcome_reason_and_dead_letter_families_with_contract_labels() -> (
    None
):
    metrics = Metrics()
    summary = _summary()
    metrics.committed(summary.outcomes, summary.reasons, summary.dead_letters)
    value = metrics.registry.get_sample_value
    assert value("jamsos_outcomes_total", {"outcome": "enrolled", "agency_code": "DISDAG"}) == 1
    assert (
        value("jamsos_outcomes_total", {"outcome": "review_required", "agency_code": "DISDAG"}) == 1
    )
    assert value("jamsos_outcomes_total", {"outcome": "duplicate", "agency_code": "DISHUB"}) == 1
    assert value("jamsos_outcomes_total", {"outcome": "rejected", "agency_code": "DISHUB"}) == 1
    assert value("jamsos_rejection_reasons_total", {"code": "OUT_OF_REGION"}) == 1
    assert value("jamsos_dead_letters_total", {"error": "SCHEMA_INVALID"}) == 1


def test_a_summary_of_a_redelivered_batch_adds_no_outcome() -> None:
    metrics = Metrics()
    for summary in (_summary(), BatchSummary(received=4, repeated=4)):  # the batch, then again
        metrics.committed(summary.outcomes, summary.reasons, summary.dead_letters)
    value = metrics.registry.get_sample_value
    assert value("jamsos_outcomes_total", {"outcome": "enrolled", "agency_code": "DISDAG"}) == 1


def test_taken_records_are_counted_per_topic() -> None:
    metrics = Metrics()
    metrics.taken(
        [Message("a", 0, n, None, b"") for n in range(3)] + [Message("b", 0, 0, None, b"")]
    )
    value = metrics.registry.get_sample_value
    assert value("jamsos_messages_consumed_total", {"topic": "a"}) == 3
    assert value("jamsos_messages_consumed_total", {"topic": "b"}) == 1


def test_two_processes_in_one_interpreter_have_separate_registries() -> None:
    first, second = Metrics(), Metrics()
    first.taken([Message("a", 0, 0, None, b"")])
    assert (
        second.registry.get_sample_value("jamsos_messages_consumed_total", {"topic": "a"}) is None
    )


def test_lag_replaces_the_previous_rows() -> None:
    metrics = Metrics()
    metrics.lag([("g", "t", 0, 5), ("g", "t", 1, 2)])
    metrics.lag([("g", "t", 0, 1)])
    value = metrics.registry.get_sample_value
    labels = {"group": "g", "topic": "t"}
    assert value("jamsos_consumer_lag", {**labels, "partition": "0"}) == 1
    assert value("jamsos_consumer_lag", {**labels, "partition": "1"}) is None
