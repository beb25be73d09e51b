"""The billing service's coverage ledger: idempotent and order-independent."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import uuid
from typing import Any

import asyncpg
import pytest

from jamsos.adapters import db
from jamsos.adapters.stores import PostgresUnitOfWork
from jamsos.usecases import billing
from jamsos.usecases.billing import record_coverage
from jamsos_schemas import topics
from tests.conftest import wait_until
from tests.integration.billing_support import (
    JAN_20,
    applied_events,
    bill,
    enrolled_event,
    invoices,
    record,
    terminated_event,
    uncredited,
)

pytestmark = pytest.mark.integration

M = "KDS-000000001"


def enrolled(**kw: Any) -> Any:
    return record(enrolled_event(M, kw.pop("start", "2025-02-01"), **kw), topics.ENROLLED)


def terminated(end: str, **kw: Any) -> Any:
    return record(terminated_event(M, kw.pop("start", "2025-02-01"), end, **kw), topics.TERMINATED)


async def ledger(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT coverage_start, agency_code, payer_code, coverage_end FROM coverage"
        " ORDER BY membership_no, coverage_start"
    )
    return [tuple(r.values()) for r in rows]


async def test_enrolled_event_opens_a_billable_coverage_period(pool: asyncpg.Pool) -> None:
    await record_coverage(PostgresUnitOfWork(pool), [enrolled()], JAN_20)
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DISDAG", "PEMKAB-KUDUS", None)]


async def test_event_delivered_twice_is_recorded_once(pool: asyncpg.Pool) -> None:
    event = enrolled()
    first = await record_coverage(PostgresUnitOfWork(pool), [event, event], JAN_20)
    second = await record_coverage(PostgresUnitOfWork(pool), [event], JAN_20)
    assert (first.new, first.repeated, second.new, second.repeated) == (1, 1, 0, 1)
    assert len(await ledger(pool)) == 1


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=str)
async def test_ledger_ends_the_same_whatever_order_events_arrive_in(
    pool: asyncpg.Pool, order: tuple[int, ...]
) -> None:
    # Enrolled, terminated (end of March), then re-enrolled elsewhere from May.
    events = [
        enrolled(),
        terminated("2025-03-31"),
        enrolled(start="2025-05-01", agency="DISHUB", enrolled_at="2025-04-03T10:00:00+07:00"),
    ]
    for i in order:  # one batch each: arrival across partitions
        await record_coverage(PostgresUnitOfWork(pool), [events[i]], JAN_20)
    assert await ledger(pool) == [
        (dt.date(2025, 2, 1), "DISDAG", "PEMKAB-KUDUS", dt.date(2025, 3, 31)),
        (dt.date(2025, 5, 1), "DISHUB", "PEMKAB-KUDUS", None),
    ]


async def test_termination_before_its_enrolment_waits_unbilled_then_completes(
    pool: asyncpg.Pool,
) -> None:
    await record_coverage(PostgresUnitOfWork(pool), [terminated("2025-02-28")], JAN_20)
    assert await ledger(pool) == [(dt.date(2025, 2, 1), None, None, dt.date(2025, 2, 28))]
    await bill(pool, "2025-02")
    assert await invoices(pool) == []
    await record_coverage(PostgresUnitOfWork(pool), [enrolled()], JAN_20)
    await bill(pool, "2025-02")
    await bill(pool, "2025-03")
    assert [(i["period"], i["participants"]) for i in await invoices(pool)] == [("2025-02", 1)]


@pytest.mark.parametrize("reenrolment_first", [False, True])
async def test_re_enrolment_after_termination_with_same_start_reopens_coverage(
    pool: asyncpg.Pool, reenrolment_first: bool
) -> None:
    # Terminated on 25 Jan before coverage began on 1 Feb, re-enrolled on 28 Jan: covered again.
    first = enrolled(enrolled_at="2025-01-20T10:00:00+07:00")
    ended = terminated("2025-01-31", decided_at="2025-01-25T10:00:00+07:00")
    again = enrolled(enrolled_at="2025-01-28T10:00:00+07:00", agency="DINSOS")
    batches = [[first], [again], [ended]] if reenrolment_first else [[first], [ended], [again]]
    for batch in batches:
        await record_coverage(PostgresUnitOfWork(pool), batch, JAN_20)
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DINSOS", "PEMKAB-KUDUS", None)]
    await bill(pool, "2025-02")
    assert await uncredited(pool, "2025-02") == 1


async def test_not_found_termination_is_ignored(pool: asyncpg.Pool) -> None:
    event = terminated_event(M, "2025-02-01", "2025-02-28")
    event.update(status="NOT_FOUND", membership_no=None, coverage_start=None, coverage_end=None)
    summary = await record_coverage(
        PostgresUnitOfWork(pool), [record(event, topics.TERMINATED)], JAN_20
    )
    assert summary.counts == {"IGNORED": 1, "DLQ": 0}
    assert await ledger(pool) == []


async def test_unreadable_participant_event_goes_to_dlq(pool: asyncpg.Pool) -> None:
    broken = enrolled_event(M, "2025-02-01")
    del broken["payer_code"]
    summary = await record_coverage(
        PostgresUnitOfWork(pool),
        [record(b"\x00", topics.ENROLLED), record(broken, topics.ENROLLED)],
        JAN_20,
    )
    assert summary.counts == {"DLQ": 2}
    errors = sorted(r["error"] for r in await pool.fetch("SELECT error FROM dead_letters"))
    assert errors[0].startswith("SCHEMA_INVALID: payer_code")
    assert errors[1].startswith("UNREADABLE")


async def test_one_period_twice_in_a_batch_keeps_the_latest_enrolment_in_either_order(
    pool: asyncpg.Pool,
) -> None:
    early = enrolled(enrolled_at="2025-01-20T10:00:00+07:00")
    late = enrolled(enrolled_at="2025-01-21T10:00:00+07:00", agency="DINSOS")
    for batch in ([early, late], [late, early]):
        await pool.execute("TRUNCATE coverage, ledger_events")
        summary = await record_coverage(PostgresUnitOfWork(pool), batch, JAN_20)
        assert (summary.new, summary.counts["ENROLLED"]) == (2, 2)
        assert await ledger(pool) == [(dt.date(2025, 2, 1), "DINSOS", "PEMKAB-KUDUS", None)]


async def test_tie_on_enrolled_at_in_a_batch_keeps_the_first(pool: asyncpg.Pool) -> None:
    first = enrolled(agency="DINSOS")
    second = record({**enrolled_event(M, "2025-02-01"), "event_id": str(uuid.uuid4())},
                    topics.ENROLLED)  # fmt: skip
    await record_coverage(PostgresUnitOfWork(pool), [first, second], JAN_20)
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DINSOS", "PEMKAB-KUDUS", None)]


async def test_older_or_identical_redelivery_does_not_rewrite_the_coverage_row(
    pool: asyncpg.Pool,
) -> None:
    late = enrolled(enrolled_at="2025-01-21T10:00:00+07:00", agency="DINSOS")
    early = enrolled(enrolled_at="2025-01-20T10:00:00+07:00")
    await record_coverage(PostgresUnitOfWork(pool), [late], JAN_20)
    version = await pool.fetchval("SELECT xmin::text FROM coverage")
    older = await record_coverage(PostgresUnitOfWork(pool), [early], JAN_20)
    again = await record_coverage(PostgresUnitOfWork(pool), [late, early], JAN_20)
    assert (older.new, again.new, again.repeated) == (1, 0, 2)
    assert await pool.fetchval("SELECT xmin::text FROM coverage") == version
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DINSOS", "PEMKAB-KUDUS", None)]


async def test_enrolment_and_termination_of_one_period_in_one_batch(pool: asyncpg.Pool) -> None:
    batch = [terminated("2025-03-31"), enrolled()]
    summary = await record_coverage(PostgresUnitOfWork(pool), batch, JAN_20)
    assert summary.counts == {"ENROLLED": 1, "TERMINATED": 1, "DLQ": 0}
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DISDAG", "PEMKAB-KUDUS",
                                   dt.date(2025, 3, 31))]  # fmt: skip
    assert len(await applied_events(pool)) == 2


async def test_ledger_reads_only_its_fields_of_an_enrolled_event(pool: asyncpg.Pool) -> None:
    """A tolerant reader: a malformed field the ledger records is a dead letter naming it; a
    malformed field it does not read (the worker) does not keep the enrolment out."""
    bad_nik = {**enrolled_event(M, "2025-02-01"), "nik": "33190145069"}
    bad_worker = enrolled_event("KDS-000000002", "2025-02-01")
    bad_worker["worker"] = {"nik": 1}
    summary = await record_coverage(
        PostgresUnitOfWork(pool),
        [record(bad_nik, topics.ENROLLED), record(bad_worker, topics.ENROLLED)],
        JAN_20,
    )
    assert summary.counts == {"ENROLLED": 1, "DLQ": 1}
    [error] = [r["error"] for r in await pool.fetch("SELECT error FROM dead_letters")]
    assert error.startswith("SCHEMA_INVALID: nik: String should match pattern")
    members = await pool.fetch("SELECT membership_no FROM coverage")
    assert [r["membership_no"] for r in members] == ["KDS-000000002"]


async def test_migration_0016_moves_the_ledger_ids_out_of_the_generic_inbox(
    pool: asyncpg.Pool,
) -> None:
    """A database upgraded with events already applied still knows them as repeats."""
    applied = enrolled()
    await record_coverage(PostgresUnitOfWork(pool), [applied], JAN_20)
    # as before 0019: the id not in its row (0019's trigger moves it to ledger_events, which
    # is dropped next and made again by 0016 from the generic inbox)
    await pool.execute("UPDATE coverage SET enrolled_event_id = NULL")
    await pool.execute("DROP TABLE ledger_events")
    await pool.execute("DELETE FROM schema_migrations WHERE version = '0016_ledger_events'")
    eid = str(json.loads(applied.value)["event_id"])
    await pool.execute(
        "INSERT INTO inbox (consumer, message_id, content_hash, processed_at) VALUES"
        " ('billing-ledger', $1, 'h', now()), ('billing-ledger', 'odd', 'h', now()),"
        " ('termination', $1, 'h', now())",
        eid,
    )
    async with pool.acquire() as conn:
        assert await db.migrate(conn) == ["0016_ledger_events"]
    assert [str(r["event_id"]) for r in await pool.fetch("SELECT event_id FROM ledger_events")] == [
        eid
    ]
    left = await pool.fetch("SELECT consumer, message_id FROM inbox ORDER BY consumer")
    assert [tuple(r.values()) for r in left] == [("billing-ledger", "odd"), ("termination", eid)]
    summary = await record_coverage(PostgresUnitOfWork(pool), [applied], JAN_20)
    assert (summary.new, summary.repeated) == (0, 1)


async def test_an_enrolment_overwritten_by_a_later_one_is_still_a_repeat(
    pool: asyncpg.Pool,
) -> None:
    """Migration 0019: the latest enrolment's id is kept in its coverage row; an earlier one it
    overwrites moves to `ledger_events`, and one that lost (in its batch or later) is claimed
    there; every one of them is a repeat when it comes again, and changes nothing."""
    first = enrolled(enrolled_at="2025-01-20T10:00:00+07:00")
    later = enrolled(enrolled_at="2025-01-21T10:00:00+07:00", agency="DINSOS")
    lost = enrolled(enrolled_at="2025-01-19T10:00:00+07:00", agency="BPBD")
    assert (await record_coverage(PostgresUnitOfWork(pool), [first], JAN_20)).new == 1
    summary = await record_coverage(PostgresUnitOfWork(pool), [later, lost], JAN_20)
    assert (summary.new, summary.repeated) == (2, 0)
    ids = [json.loads(r.value)["event_id"] for r in (first, later, lost)]
    kept = await pool.fetchval("SELECT enrolled_event_id::text FROM coverage")
    claimed = {str(r[0]) for r in await pool.fetch("SELECT event_id FROM ledger_events")}
    assert (kept, claimed) == (ids[1], {ids[0], ids[2]})
    version = await pool.fetchval("SELECT xmin::text FROM coverage")
    again = await record_coverage(PostgresUnitOfWork(pool), [first, lost, later], JAN_20)
    assert (again.new, again.repeated) == (0, 3)
    assert await pool.fetchval("SELECT xmin::text FROM coverage") == version
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DINSOS", "PEMKAB-KUDUS", None)]


@pytest.mark.parametrize("removal", ["DELETE FROM coverage", "TRUNCATE coverage"])
async def test_a_redelivery_does_not_bring_back_a_deleted_coverage_period(
    pool: asyncpg.Pool, removal: str
) -> None:
    """Migration 0019: a deleted (or truncated) row's enrolment id moves to `ledger_events`, so
    an enrolment redelivered later (a consumer group reset) is a repeat like its termination,
    instead of re-opening the period without the termination."""
    applied = [enrolled(), terminated("2025-03-31")]
    await record_coverage(PostgresUnitOfWork(pool), applied, JAN_20)
    await pool.execute(removal)
    again = await record_coverage(PostgresUnitOfWork(pool), applied, JAN_20)
    assert (again.new, again.repeated) == (0, 2)
    assert await ledger(pool) == []


async def test_a_redelivered_id_is_a_repeat_whatever_it_holds(pool: asyncpg.Pool) -> None:
    """Readers de-duplicate by event_id: an id already applied, whether it is its row's
    enrolment or was claimed in `ledger_events` (it lost to a later one), writes nothing even
    when the redelivery says something else (a later enrolled_at, another agency)."""
    kept = enrolled(enrolled_at="2025-01-21T10:00:00+07:00", agency="DINSOS")
    lost = enrolled(enrolled_at="2025-01-20T10:00:00+07:00", agency="DISHUB")
    await record_coverage(PostgresUnitOfWork(pool), [kept, lost], JAN_20)
    version = await pool.fetchval("SELECT xmin::text FROM coverage")
    changed = []
    for message in (kept, lost):
        body = {**json.loads(message.value), "enrolled_at": "2025-01-25T10:00:00+07:00"}
        changed.append(record({**body, "agency_code": "BPBD"}, topics.ENROLLED))
    again = await record_coverage(PostgresUnitOfWork(pool), changed, JAN_20)
    assert (again.new, again.repeated) == (0, 2)
    assert await pool.fetchval("SELECT xmin::text FROM coverage") == version
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DINSOS", "PEMKAB-KUDUS", None)]


async def test_a_changed_redelivery_does_not_hide_a_new_enrolment_beside_it(
    pool: asyncpg.Pool,
) -> None:
    """A repeat is left out before the latest of a period is chosen: the row's own event sent
    again with a later enrolled_at must not win the choice and push out a real new enrolment
    of the same period in the same batch (which would then be claimed, never applied)."""
    first = enrolled(enrolled_at="2025-01-20T10:00:00+07:00")
    await record_coverage(PostgresUnitOfWork(pool), [first], JAN_20)
    body = {**json.loads(first.value), "enrolled_at": "2025-01-25T10:00:00+07:00"}
    changed = record(body, topics.ENROLLED)
    new = enrolled(enrolled_at="2025-01-22T10:00:00+07:00", agency="DINSOS")
    summary = await record_coverage(PostgresUnitOfWork(pool), [changed, new], JAN_20)
    assert (summary.new, summary.repeated) == (1, 1)
    assert await ledger(pool) == [(dt.date(2025, 2, 1), "DINSOS", "PEMKAB-KUDUS", None)]


async def test_a_redelivery_racing_an_uncommitted_delete_stays_a_repeat(
    pool: asyncpg.Pool,
) -> None:
    """An owner's DELETE of coverage holds off ledger batches until it commits (0019), so a
    redelivery that arrives meanwhile sees the deleted row's id moved to `ledger_events`
    rather than finding the row gone and opening the period again without its termination."""
    applied = [enrolled(), terminated("2025-03-31")]
    await record_coverage(PostgresUnitOfWork(pool), applied, JAN_20)
    async with pool.acquire() as owner:
        deleting = owner.transaction()
        await deleting.start()
        await owner.execute("DELETE FROM coverage")
        redelivery = asyncio.ensure_future(
            record_coverage(PostgresUnitOfWork(pool), applied[:1], JAN_20)
        )

        async def waiting() -> bool:
            ungranted = (  # a backend of this database waiting on a lock (the DELETE's)
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN ("
                " SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
            )
            return bool(await owner.fetchval(ungranted)) and not redelivery.done()

        await wait_until(waiting, timeout=30, what="the redelivery to wait on the DELETE")
        await deleting.commit()
    again = await redelivery
    assert (again.new, again.repeated) == (0, 1)
    assert await ledger(pool) == []


async def test_chunks_of_one_batch_keep_the_latest_and_the_first_on_a_tie(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is written a chunk a statement (PostgreSQL writes one while Python reads the
    next): across chunks, as within one, the latest enrolment wins and a tie keeps the first."""
    monkeypatch.setattr(billing, "CHUNK", 2)
    other = "KDS-000000002"
    tie = {**enrolled_event(other, "2025-02-01"), "event_id": str(uuid.uuid4())}
    batch = [
        enrolled(enrolled_at="2025-01-20T10:00:00+07:00"),
        record(enrolled_event(other, "2025-02-01", agency="DINSOS"), topics.ENROLLED),
        enrolled(enrolled_at="2025-01-22T10:00:00+07:00", agency="BPBD"),  # chunk 2
        enrolled(enrolled_at="2025-01-21T10:00:00+07:00", agency="DISHUB"),
        record(tie, topics.ENROLLED),  # chunk 3: the same enrolled_at as the DINSOS one
        enrolled(enrolled_at="2025-01-20T10:00:00+07:00"),  # the first one again
    ]
    summary = await record_coverage(PostgresUnitOfWork(pool), batch, JAN_20)
    assert (summary.new, summary.repeated) == (5, 1)
    rows = await pool.fetch("SELECT membership_no, agency_code FROM coverage ORDER BY 1")
    assert [tuple(r.values()) for r in rows] == [(M, "BPBD"), (other, "DINSOS")]


async def test_a_batch_failing_while_a_chunk_is_written_rolls_back_whole(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(billing, "CHUNK", 1)
    read = billing.read_record
    calls = itertools.count()

    def failing(record: Any) -> Any:
        if next(calls) == 2:
            raise RuntimeError("reading failed")
        return read(record)

    monkeypatch.setattr(billing, "read_record", failing)
    batch = [record(enrolled_event(f"KDS-00000000{i}", "2025-02-01"), topics.ENROLLED)
             for i in range(4)]  # fmt: skip
    with pytest.raises(RuntimeError, match="reading failed"):
        await record_coverage(PostgresUnitOfWork(pool), batch, JAN_20)
    assert await pool.fetchval("SELECT count(*) FROM coverage") == 0
    assert await applied_events(pool) == []
    monkeypatch.setattr(billing, "read_record", read)
    summary = await record_coverage(PostgresUnitOfWork(pool), batch, JAN_20)  # pool still fine
    assert summary.new == 4


async def test_an_unreadable_record_is_dead_lettered_with_the_reason(pool: asyncpg.Pool) -> None:
    """The DLQ's error says what is wrong with the bytes, not only that no event_id was found."""
    nul = json.dumps({**enrolled_event(M, "2025-02-01"), "payer_code": "PEMKAB\u0000"}).encode()
    values = [nul, b'{"event_id": ', b"[1, 2]", b"\xff\xfe"]
    batch = [record(v, topics.ENROLLED) for v in values]
    summary = await record_coverage(PostgresUnitOfWork(pool), batch, JAN_20)
    assert summary.counts == {"DLQ": 4}
    rows = await pool.fetch('SELECT error FROM dead_letters ORDER BY "offset"')
    errors = [r["error"] for r in rows]
    assert errors[0] == "UNREADABLE: contains the NUL character (\\u0000)"
    assert errors[1].startswith("UNREADABLE: not JSON")
    assert errors[2] == "UNREADABLE: the value is not a JSON object"
    assert errors[3].startswith("UNREADABLE: not UTF-8")
