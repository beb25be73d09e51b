"""Write-side SQL of registration and enrolment; every statement is set-based over a batch."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from jamsos.adapters.kafka import Inbound
from jamsos.domain.dedup import Participant
from jamsos.domain.tariff import Tariff

Identity = tuple[str, str]  # (agency_code, submission_id)


@dataclass(frozen=True)
class NewSubmission:
    """A readable submission to record as received."""

    agency_code: str
    submission_id: str
    content_hash: str
    nik: str | None
    village_code: str | None
    payload_json: str  # the submission as received, JSON text


@dataclass(frozen=True)
class Decision:
    """The terminal outcome recorded on a submission row."""

    agency_code: str
    submission_id: str
    status: str
    reasons: list[dict[str, str]] | None = None
    membership_no: str | None = None
    existing_agency_code: str | None = None


@dataclass(frozen=True)
class Claim:
    """A submission asking to hold a NIK."""

    nik: str
    agency_code: str
    submission_id: str


@dataclass(frozen=True)
class Holder:
    """Who holds a NIK: the submission, and the membership number once it is enrolled."""

    agency_code: str
    submission_id: str
    membership_no: str | None


@dataclass(frozen=True)
class Enrolment:
    """A participant row to write (insert, or re-activate a terminated one)."""

    nik: str
    membership_no: str
    full_name: str
    birth_date: dt.date
    sex: str
    village_code: str
    kecamatan_code: str
    agency_code: str
    submission_id: str
    payer_code: str
    funding_source: str
    enrolled_at: dt.datetime
    coverage_start: dt.date
    worker_json: str  # the normalised worker, JSON text


@dataclass(frozen=True)
class DeadLetter:
    """A message kept whole with the reason it could not be processed."""

    event_id: Any
    record: Inbound
    error: str


async def insert_submissions(
    conn: asyncpg.Connection, rows: Sequence[NewSubmission], received_at: dt.datetime
) -> set[Identity]:
    """Insert as RECEIVED; returns the identities that were new (the rest were seen before)."""
    if not rows:
        return set()
    inserted = await conn.fetch(
        """
        INSERT INTO submissions (agency_code, submission_id, content_hash, nik, village_code,
                                 payload, received_at, status)
        SELECT a, s, h, n, v, p::jsonb, $7, 'RECEIVED'
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            AS t(a, s, h, n, v, p)
        ORDER BY a, s  -- one lock order for every consumer (no deadlocks)
        ON CONFLICT (agency_code, submission_id) DO NOTHING
        RETURNING agency_code, submission_id
        """,
        [r.agency_code for r in rows],
        [r.submission_id for r in rows],
        [r.content_hash for r in rows],
        [r.nik for r in rows],
        [r.village_code for r in rows],
        [r.payload_json for r in rows],
        received_at,
    )
    return {(r["agency_code"], r["submission_id"]) for r in inserted}


async def content_hashes(conn: asyncpg.Connection, ids: Sequence[Identity]) -> dict[Identity, str]:
    """The stored content hash of each known identity."""
    if not ids:
        return {}
    rows = await conn.fetch(
        """
        SELECT s.agency_code, s.submission_id, s.content_hash
        FROM submissions s
        JOIN unnest($1::text[], $2::text[]) AS t(a, i)
            ON s.agency_code = t.a AND s.submission_id = t.i
        """,
        [a for a, _ in ids],
        [i for _, i in ids],
    )
    return {(r["agency_code"], r["submission_id"]): r["content_hash"] for r in rows}


async def record_decisions(
    conn: asyncpg.Connection, decisions: Sequence[Decision], decided_at: dt.datetime
) -> None:
    """Set the outcome of submissions not decided yet (in flight or held)."""
    if not decisions:
        return
    await conn.execute(
        """
        UPDATE submissions s
        SET status = t.st, reasons = t.r::jsonb, membership_no = t.m,
            existing_agency_code = t.x, decided_at = $7
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
            AS t(a, i, st, r, m, x)
        WHERE s.agency_code = t.a AND s.submission_id = t.i AND s.status IN ('RECEIVED', 'REVIEW')
        """,
        [d.agency_code for d in decisions],
        [d.submission_id for d in decisions],
        [d.status for d in decisions],
        [None if d.reasons is None else json.dumps(d.reasons) for d in decisions],
        [d.membership_no for d in decisions],
        [d.existing_agency_code for d in decisions],
        decided_at,
    )


async def claim_niks(
    conn: asyncpg.Connection, claims: Sequence[Claim], claimed_at: dt.datetime
) -> set[Identity]:
    """Claim NIKs in the given order; returns the submissions that now hold their NIK."""
    if not claims:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO nik_claims (nik, agency_code, submission_id, claimed_at)
        SELECT n, a, i, $4
        FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS t(n, a, i, o)
        ORDER BY n, o  -- one lock order for every consumer (no deadlocks); batch order per NIK
        ON CONFLICT (nik) DO NOTHING
        RETURNING agency_code, submission_id
        """,
        [c.nik for c in claims],
        [c.agency_code for c in claims],
        [c.submission_id for c in claims],
        claimed_at,
    )
    return {(r["agency_code"], r["submission_id"]) for r in rows}


async def claim_holders(conn: asyncpg.Connection, niks: Sequence[str]) -> dict[str, Holder]:
    """Current holder of each claimed NIK, with the membership number if it is enrolled."""
    if not niks:
        return {}
    rows = await conn.fetch(
        """
        SELECT c.nik, c.agency_code, c.submission_id, s.membership_no
        FROM nik_claims c
        JOIN submissions s USING (agency_code, submission_id)
        WHERE c.nik = ANY($1::text[])
        """,
        list(set(niks)),
    )
    return {
        r["nik"]: Holder(r["agency_code"], r["submission_id"], r["membership_no"]) for r in rows
    }


async def release_claims(conn: asyncpg.Connection, ids: Sequence[Identity]) -> None:
    """Free the NIKs held by these (rejected) submissions."""
    if not ids:
        return
    await conn.execute(
        """
        DELETE FROM nik_claims c
        USING unnest($1::text[], $2::text[]) AS t(a, i)
        WHERE c.agency_code = t.a AND c.submission_id = t.i
        """,
        [a for a, _ in ids],
        [i for _, i in ids],
    )


async def pending(conn: asyncpg.Connection, ids: Sequence[Identity]) -> set[Identity]:
    """The identities still RECEIVED (not decided yet), locked for this transaction."""
    if not ids:
        return set()
    rows = await conn.fetch(
        """
        SELECT s.agency_code, s.submission_id
        FROM submissions s
        JOIN unnest($1::text[], $2::text[]) AS t(a, i)
            ON s.agency_code = t.a AND s.submission_id = t.i
        WHERE s.status = 'RECEIVED'
        FOR UPDATE OF s
        """,
        [a for a, _ in ids],
        [i for _, i in ids],
    )
    return {(r["agency_code"], r["submission_id"]) for r in rows}


async def lock_enrolment(conn: asyncpg.Connection) -> None:
    """Serialise enrolment decisions so quota and ceiling counts stay exact."""
    await conn.execute("SELECT pg_advisory_xact_lock(7301903)")


async def active_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Active participants per agency."""
    rows = await conn.fetch(
        "SELECT agency_code, count(*) AS n FROM participants WHERE status = 'ACTIVE'"
        " GROUP BY agency_code"
    )
    return {r["agency_code"]: r["n"] for r in rows}


async def deceased(conn: asyncpg.Connection, niks: Sequence[str]) -> set[str]:
    """NIKs among these that were terminated as deceased."""
    if not niks:
        return set()
    rows = await conn.fetch(
        "SELECT nik FROM participants WHERE nik = ANY($1::text[])"
        " AND termination_reason = 'DECEASED'",
        list(set(niks)),
    )
    return {r["nik"] for r in rows}


async def known_participants(
    conn: asyncpg.Connection, niks: Sequence[str]
) -> dict[str, tuple[str, dt.datetime | None]]:
    """Membership number (kept on re-enrolment) and last termination of known NIKs."""
    if not niks:
        return {}
    rows = await conn.fetch(
        "SELECT nik, membership_no, terminated_at FROM participants WHERE nik = ANY($1::text[])",
        list(set(niks)),
    )
    return {r["nik"]: (r["membership_no"], r["terminated_at"]) for r in rows}


async def next_serials(conn: asyncpg.Connection, count: int) -> list[int]:
    """`count` fresh membership serials."""
    if count == 0:
        return []
    rows = await conn.fetch(
        "SELECT nextval('membership_serial') AS n FROM generate_series(1, $1)", count
    )
    return [r["n"] for r in rows]


async def tariffs(conn: asyncpg.Connection) -> list[Tariff]:
    """The effective-dated tariff table."""
    rows = await conn.fetch("SELECT effective_from, jkk, jkm FROM tariffs ORDER BY effective_from")
    return [Tariff(r["effective_from"], r["jkk"], r["jkm"]) for r in rows]


async def upsert_participants(conn: asyncpg.Connection, rows: Sequence[Enrolment]) -> None:
    """Insert new participants; re-activate terminated ones keeping their membership number."""
    if not rows:
        return
    await conn.execute(
        """
        INSERT INTO participants (nik, membership_no, full_name, birth_date, sex, village_code,
            kecamatan_code, agency_code, submission_id, payer_code, funding_source, status,
            enrolled_at, coverage_start, worker)
        SELECT n, m, f, b, s, v, k, a, i, p, fs, 'ACTIVE', e, c, w::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[], $6::text[],
                    $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                    $12::timestamptz[], $13::date[], $14::text[])
            AS t(n, m, f, b, s, v, k, a, i, p, fs, e, c, w)
        ON CONFLICT (nik) DO UPDATE SET
            full_name = EXCLUDED.full_name, birth_date = EXCLUDED.birth_date, sex = EXCLUDED.sex,
            village_code = EXCLUDED.village_code, kecamatan_code = EXCLUDED.kecamatan_code,
            agency_code = EXCLUDED.agency_code, submission_id = EXCLUDED.submission_id,
            payer_code = EXCLUDED.payer_code, funding_source = EXCLUDED.funding_source,
            status = 'ACTIVE', enrolled_at = EXCLUDED.enrolled_at,
            coverage_start = EXCLUDED.coverage_start, coverage_end = NULL,
            termination_reason = NULL, terminated_at = NULL, worker = EXCLUDED.worker
        WHERE participants.status = 'TERMINATED'
        """,
        [r.nik for r in rows],
        [r.membership_no for r in rows],
        [r.full_name for r in rows],
        [r.birth_date for r in rows],
        [r.sex for r in rows],
        [r.village_code for r in rows],
        [r.kecamatan_code for r in rows],
        [r.agency_code for r in rows],
        [r.submission_id for r in rows],
        [r.payer_code for r in rows],
        [r.funding_source for r in rows],
        [r.enrolled_at for r in rows],
        [r.coverage_start for r in rows],
        [r.worker_json for r in rows],
    )


async def add_dead_letters(
    conn: asyncpg.Connection, letters: Sequence[DeadLetter], failed_at: dt.datetime
) -> None:
    """Keep dead letters in the database too, for `jamsos ops dlq` and the report."""
    if not letters:
        return
    await conn.execute(
        """
        INSERT INTO dead_letters (event_id, source_topic, partition, "offset", key, value, error,
                                  failed_at, headers)
        SELECT e, t, p, o, k, v, er, $8, h::jsonb
        FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bigint[], $5::bytea[], $6::bytea[],
                    $7::text[], $9::text[]) AS x(e, t, p, o, k, v, er, h)
        ON CONFLICT (event_id) DO NOTHING
        """,
        [d.event_id for d in letters],
        [d.record.topic for d in letters],
        [d.record.partition for d in letters],
        [d.record.offset for d in letters],
        [d.record.key for d in letters],
        [d.record.value for d in letters],
        [d.error for d in letters],
        failed_at,
        [json.dumps(headers_json(d.record.headers)) for d in letters],
    )


def headers_json(headers: Sequence[tuple[str, bytes]]) -> list[list[str]]:
    """Kafka headers as JSON: [name, base64 of the value] pairs (dead_letters.headers)."""
    return [[name, base64.b64encode(value).decode("ascii")] for name, value in headers]


def headers_from_json(doc: Any) -> list[tuple[str, bytes]]:
    """The Kafka headers stored by `headers_json`."""
    pairs = json.loads(doc) if isinstance(doc, str) else doc
    return [(str(name), base64.b64decode(value)) for name, value in pairs or ()]


async def active_by_birth_date(
    conn: asyncpg.Connection, birth_dates: Sequence[dt.date]
) -> list[Participant]:
    """Active participants born on any of these dates (look-alike candidates)."""
    if not birth_dates:
        return []
    rows = await conn.fetch(
        "SELECT membership_no, nik, full_name, birth_date, sex, village_code, agency_code"
        " FROM participants"
        " WHERE status = 'ACTIVE' AND birth_date = ANY($1::date[])",
        list(set(birth_dates)),
    )
    return [Participant(**dict(r)) for r in rows]


async def record_candidates(
    conn: asyncpg.Connection, held: Sequence[tuple[Identity, list[dict[str, Any]]]]
) -> None:
    """Keep the look-alikes a held submission was matched with."""
    if not held:
        return
    await conn.execute(
        """
        UPDATE submissions s SET candidates = t.c::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[]) AS t(a, i, c)
        WHERE s.agency_code = t.a AND s.submission_id = t.i
        """,
        [i[0] for i, _ in held],
        [i[1] for i, _ in held],
        [json.dumps(c) for _, c in held],
    )


@dataclass(frozen=True)
class Held:
    """A submission waiting for review: its payload as received and its look-alikes."""

    payload_json: str
    candidates: list[dict[str, Any]]


async def held(conn: asyncpg.Connection, ids: Sequence[Identity]) -> dict[Identity, Held]:
    """Submissions among `ids` still held for review, locked for this transaction."""
    if not ids:
        return {}
    rows = await conn.fetch(
        """
        SELECT s.agency_code, s.submission_id, s.payload::text AS payload, s.candidates
        FROM submissions s
        JOIN unnest($1::text[], $2::text[]) AS t(a, i)
            ON s.agency_code = t.a AND s.submission_id = t.i
        WHERE s.status = 'REVIEW'
        FOR UPDATE OF s
        """,
        [a for a, _ in ids],
        [i for _, i in ids],
    )
    return {
        (r["agency_code"], r["submission_id"]): Held(r["payload"], r["candidates"] or [])
        for r in rows
    }


async def set_reviewer(conn: asyncpg.Connection, ids: Sequence[tuple[Identity, str]]) -> None:
    """Record who resolved each hold."""
    if not ids:
        return
    await conn.execute(
        """
        UPDATE submissions s SET reviewed_by = t.b
        FROM unnest($1::text[], $2::text[], $3::text[]) AS t(a, i, b)
        WHERE s.agency_code = t.a AND s.submission_id = t.i
        """,
        [i[0] for i, _ in ids],
        [i[1] for i, _ in ids],
        [b for _, b in ids],
    )
