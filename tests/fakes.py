"""In-memory implementations of the use cases' stores (jamsos.usecases.ports), for unit tests.

Each method keeps the meaning its SQL has (ON CONFLICT DO NOTHING, "later wins", status
guards), on plain dicts. Accrual and credit use the domain rule (domain/accrual.py) instead of
re-implementing the set-based SQL; the integration tests are what prove the SQL agrees.
Reconciliation's figures are set-based SQL too (adapters/reconciliation.py): the fake returns
the figures a test puts in `FakeState.figures`, so the unit tests cover what `reconcile`
decides around them (which periods, a missing tariff, the checks, one snapshot).
Capacity keeps agency counters only; the regency's is their sum, so only an agency's can drift.
Locks are no-ops: one fake transaction runs at a time.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jamsos.domain.accrual import CoverageRecord, accrue, to_credit
from jamsos.domain.dedup import Group, Participant
from jamsos.domain.invoicing import Invoice, Line, PayerHistory
from jamsos.domain.period import Period
from jamsos.domain.reconciliation import (
    AgencyCounts,
    CapacityCount,
    InvoiceKey,
    PeriodFigures,
    Sums,
)
from jamsos.domain.tariff import TARIFF_2025, Tariff
from jamsos.usecases.rows import (
    AuditEntry,
    CapacityChange,
    Claim,
    DeadLetter,
    Decision,
    Enrolment,
    Enrolments,
    Held,
    Holder,
    Identity,
    LoggedRequest,
    NewSubmission,
    OutboxEvent,
    ParticipantState,
    PaymentState,
    Terminated,
    from_microseconds,
)

NO_SUMS = Sums(0, 0, 0, 0)


@dataclass
class FakeFigures:
    """What the reconciliation queries would return (set by a test)."""

    agencies: list[AgencyCounts] = field(default_factory=list)
    periods: dict[str, PeriodFigures] = field(default_factory=dict)
    invoices: dict[str, tuple[dict[str, Sums], dict[InvoiceKey, Sums], dict[InvoiceKey, Sums]]] = (
        field(default_factory=dict)
    )
    ledger_behind: int = 0


@dataclass
class FakeState:
    """Every table the use cases touch, as dicts."""

    submissions: dict[Identity, dict[str, Any]] = field(default_factory=dict)
    claims: dict[str, Identity] = field(default_factory=dict)  # nik → holder
    participants: dict[str, dict[str, Any]] = field(default_factory=dict)  # by nik
    serial: int = 0
    tariffs: list[Tariff] = field(default_factory=lambda: [TARIFF_2025])
    inbox: dict[tuple[str, str], str] = field(default_factory=dict)
    ledger_events: set[uuid.UUID] = field(default_factory=set)
    dead_letters: dict[Any, DeadLetter] = field(default_factory=dict)
    outbox: list[OutboxEvent] = field(default_factory=list)
    coverage: dict[tuple[str, dt.date], dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: list[dict[str, Any]] = field(default_factory=list)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    terminations: dict[str, LoggedRequest] = field(default_factory=dict)
    payments: list[dict[str, Any]] = field(default_factory=list)
    figures: FakeFigures = field(default_factory=FakeFigures)
    audit: list[tuple[dt.datetime, AuditEntry]] = field(default_factory=list)
    capacity: dict[str, int] = field(default_factory=dict)  # places used, by agency code
    # the look-alike group calls of verification, in order (held before they are read)
    calls: list[tuple[str, list[Any]]] = field(default_factory=list)

    def events(self, topic: str) -> list[dict[str, Any]]:
        """The outbox events of `topic`, decoded, in the order written."""
        return [json.loads(e.value) for e in self.outbox if e.topic == topic]


class FakeUnitOfWork:
    """Commits by keeping the changes; rolls back to a copy taken when the block began."""

    def __init__(self, state: FakeState | None = None) -> None:
        self.state = state or FakeState()
        self.commits = 0
        self.snapshots = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeStore]:
        before = copy.deepcopy(self.state)
        try:
            yield FakeStore(self.state)
        except BaseException:
            self.state.__dict__.update(before.__dict__)
            raise
        self.commits += 1

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[FakeStore]:
        """Read-only: the store works on a copy, so a write would change nothing."""
        self.snapshots += 1
        yield FakeStore(copy.deepcopy(self.state))


@dataclass
class FakeStore:
    """Every port of usecases/ports.py on a FakeState."""

    db: FakeState

    # dead letters and outbox

    async def add_dead_letters(self, letters: Sequence[DeadLetter], failed_at: dt.datetime) -> None:
        for letter in letters:
            self.db.dead_letters.setdefault(letter.event_id, letter)

    async def add_events(self, events: Sequence[OutboxEvent]) -> None:
        known = {e.event_id for e in self.db.outbox}
        for event in events:
            if event.event_id not in known:
                known.add(event.event_id)
                self.db.outbox.append(event)

    # inbox

    async def claim_messages(
        self, consumer: str, messages: Mapping[str, str], now: dt.datetime
    ) -> set[str]:
        new = {m for m in messages if (consumer, m) not in self.db.inbox}
        for m in new:
            self.db.inbox[(consumer, m)] = messages[m]
        return new

    async def message_hashes(self, consumer: str, ids: Sequence[str]) -> dict[str, str]:
        return {i: self.db.inbox[(consumer, i)] for i in ids if (consumer, i) in self.db.inbox}

    # submissions and claims

    async def insert_submissions(
        self, rows: Sequence[NewSubmission], received_at: dt.datetime
    ) -> set[Identity]:
        new: set[Identity] = set()
        for r in rows:
            identity = (r.agency_code, r.submission_id)
            if identity in self.db.submissions:
                continue
            new.add(identity)
            self.db.submissions[identity] = {
                "content_hash": r.content_hash,
                "nik": r.nik,
                "payload_json": r.payload_json,
                "status": "RECEIVED",
                "reasons": None,
                "membership_no": None,
                "existing_agency_code": None,
                "candidates": None,
                "reviewed_by": None,
            }
        return new

    async def submission_hashes(self, ids: Sequence[Identity]) -> dict[Identity, str]:
        return {i: self.db.submissions[i]["content_hash"] for i in ids if i in self.db.submissions}

    async def claim_niks(self, claims: Sequence[Claim], claimed_at: dt.datetime) -> set[Identity]:
        won: set[Identity] = set()
        for c in sorted(claims, key=lambda c: c.nik):  # stable: batch order per NIK
            if c.nik not in self.db.claims:
                self.db.claims[c.nik] = (c.agency_code, c.submission_id)
                won.add((c.agency_code, c.submission_id))
        return won

    async def claim_holders(self, niks: Sequence[str]) -> dict[str, Holder]:
        out: dict[str, Holder] = {}
        for nik in niks:
            if nik in self.db.claims:
                identity = self.db.claims[nik]
                number = self.db.submissions[identity]["membership_no"]
                out[nik] = Holder(*identity, number)
        return out

    async def record_decisions(
        self, decisions: Sequence[Decision], decided_at: dt.datetime
    ) -> None:
        for d in decisions:
            row = self.db.submissions.get((d.agency_code, d.submission_id))
            if row is not None and row["status"] in ("RECEIVED", "REVIEW"):
                row.update(
                    status=str(d.status),
                    reasons=d.reasons,
                    membership_no=d.membership_no,
                    existing_agency_code=d.existing_agency_code,
                )

    async def release_claims(self, ids: Sequence[Identity]) -> None:
        gone = set(ids)
        self.db.claims = {n: i for n, i in self.db.claims.items() if i not in gone}

    async def pending(self, ids: Sequence[Identity]) -> set[Identity]:
        return {
            i
            for i in ids
            if i in self.db.submissions and self.db.submissions[i]["status"] == "RECEIVED"
        }

    async def record_candidates(
        self, held: Sequence[tuple[Identity, list[dict[str, Any]]]]
    ) -> None:
        for identity, candidates in held:
            self.db.submissions[identity]["candidates"] = candidates

    async def held(self, ids: Sequence[Identity]) -> dict[Identity, Held]:
        rows = self.db.submissions
        return {  # in key order, as the adapter locks and returns them
            i: Held(rows[i]["payload_json"], rows[i]["candidates"] or [])
            for i in sorted(set(ids))
            if i in rows and rows[i]["status"] == "REVIEW"
        }

    async def set_reviewer(self, ids: Sequence[tuple[Identity, str]]) -> None:
        for identity, by in ids:
            self.db.submissions[identity]["reviewed_by"] = by

    async def add_audit(self, entries: Sequence[AuditEntry], at: dt.datetime) -> None:
        self.db.audit.extend((at, e) for e in entries)

    # participants

    async def capacity(self, agencies: Sequence[str], lock: bool) -> tuple[dict[str, int], int]:
        used = self.db.capacity
        return ({a: used[a] for a in agencies if a in used}, sum(used.values()))

    async def use_capacity(
        self, deltas: Mapping[str, int], quotas: Mapping[str, int | None], ceiling: int | None
    ) -> bool:
        used, total = self.db.capacity, sum(self.db.capacity.values()) + sum(deltas.values())
        if ceiling is not None and sum(deltas.values()) > 0 and total > ceiling:
            return False
        for agency, n in deltas.items():
            quota = quotas.get(agency)
            if quota is not None and n > 0 and used.get(agency, 0) + n > quota:
                return False
            used[agency] = used.get(agency, 0) + n
            assert used[agency] >= 0
        return True

    async def deceased(self, niks: Sequence[str]) -> set[str]:
        rows = self.db.participants
        return {n for n in niks if n in rows and rows[n]["termination_reason"] == "DECEASED"}

    async def known_participants(
        self, niks: Sequence[str]
    ) -> dict[str, tuple[str, dt.datetime | None]]:
        rows = self.db.participants
        return {n: (rows[n]["membership_no"], rows[n]["terminated_at"]) for n in niks if n in rows}

    async def next_serials(self, count: int) -> list[int]:
        first = self.db.serial + 1
        self.db.serial += count
        return list(range(first, first + count))

    async def tariffs(self) -> list[Tariff]:
        return list(self.db.tariffs)

    async def upsert_participants(self, rows: Sequence[Enrolment]) -> None:
        for r in rows:
            current = self.db.participants.get(r.nik)
            if current is not None and current["status"] != "TERMINATED":
                continue
            self.db.participants[r.nik] = {
                **dataclasses.asdict(r),
                "membership_no": current["membership_no"] if current else r.membership_no,
                "status": "ACTIVE",
                "coverage_end": None,
                "termination_reason": None,
                "terminated_at": None,
            }

    async def lock_groups(self, groups: Sequence[Group]) -> None:
        # one transaction at a time here: nothing to wait for; the order of calls is kept
        self.db.calls.append(("lock_groups", sorted(set(groups))))

    async def active_in_groups(self, groups: Sequence[Group]) -> list[Participant]:
        self.db.calls.append(("active_in_groups", sorted(set(groups))))
        wanted = set(groups)
        return [
            Participant(
                **{k: p[k] for k in ("membership_no", "nik", "full_name", "birth_date", "sex")},
                village_code=p["village_code"],
                agency_code=p["agency_code"],
            )
            for p in self.db.participants.values()
            if p["status"] == "ACTIVE" and (p["birth_date"], p["sex"], p["village_code"]) in wanted
        ]

    # terminations

    async def participant_states(self, niks: Sequence[str]) -> dict[str, ParticipantState]:
        names = [f.name for f in dataclasses.fields(ParticipantState)]
        rows = self.db.participants
        return {n: ParticipantState(**{k: rows[n][k] for k in names}) for n in niks if n in rows}

    async def release_participant_claims(self, niks: Sequence[str]) -> None:
        own = {
            (p["agency_code"], p["submission_id"])
            for n, p in self.db.participants.items()
            if n in set(niks)
        }
        self.db.claims = {n: i for n, i in self.db.claims.items() if i not in own}

    async def write_states(self, states: Sequence[ParticipantState]) -> None:
        for s in states:
            self.db.participants[s.nik].update(
                status=s.status,
                coverage_end=s.coverage_end,
                termination_reason=s.termination_reason,
                terminated_at=s.terminated_at,
            )

    async def log_requests(self, rows: Sequence[LoggedRequest], decided_at: dt.datetime) -> None:
        for r in rows:
            self.db.terminations.setdefault(r.request_id, r)

    # billing ledger

    def _coverage(self, membership_no: str, start: dt.date, nik: str) -> dict[str, Any]:
        return self.db.coverage.setdefault(
            (membership_no, start),
            {"nik": nik, "agency_code": None, "payer_code": None, "funding_source": None,
             "enrolled_at": None, "terminated_at": None, "ended_on": None},
        )  # fmt: skip

    async def claim_events(self, ids: Sequence[uuid.UUID], now: dt.datetime) -> set[uuid.UUID]:
        new = set(ids) - self.db.ledger_events
        self.db.ledger_events |= new
        return new

    async def record_enrolments(self, rows: Enrolments, now: dt.datetime) -> int:
        new = await self.claim_events(rows.event_ids, now)
        latest: dict[tuple[str, dt.date], int] = {}  # the latest new enrolment per period
        for i, eid in enumerate(rows.event_ids):
            key = (rows.membership_no[i], rows.coverage_start[i])
            if eid in new and (
                key not in latest or rows.enrolled_us[i] > rows.enrolled_us[latest[key]]
            ):
                latest[key] = i
        for (number, start), i in latest.items():
            at = from_microseconds(rows.enrolled_us[i])
            row = self._coverage(number, start, rows.nik[i])
            if row["enrolled_at"] is None or at > row["enrolled_at"]:
                row.update(nik=rows.nik[i], agency_code=rows.agency_code[i],
                           payer_code=rows.payer_code[i], funding_source=rows.funding_source[i],
                           enrolled_at=at)  # fmt: skip
        return len(new)

    async def record_terminations(self, rows: Sequence[Terminated]) -> None:
        for r in rows:
            row = self._coverage(r.membership_no, r.coverage_start, r.nik)
            if row["terminated_at"] is None or r.terminated_at > row["terminated_at"]:
                row.update(terminated_at=r.terminated_at, ended_on=r.coverage_end)

    def coverage_records(self) -> list[CoverageRecord]:
        """The ledger as the domain sees it (coverage_end as migration 0002 generates it)."""
        records = []
        for (number, start), row in self.db.coverage.items():
            ended = row["terminated_at"] is not None and (
                row["enrolled_at"] is None or row["terminated_at"] >= row["enrolled_at"]
            )
            records.append(
                CoverageRecord(number, start, row["ended_on"] if ended else None, row["nik"],
                               row["agency_code"], row["payer_code"], row["funding_source"])
            )  # fmt: skip
        return records

    # billing runs, accrual, invoices

    async def begin_run(
        self,
        request_id: str,
        content_hash: str,
        period: Period,
        requested_at: dt.datetime,
        now: dt.datetime,
    ) -> bool:
        if request_id in self.db.runs:
            return False
        self.db.runs[request_id] = {"content_hash": content_hash, "period": str(period),
                                    "outcome": "DONE", "detail": None}  # fmt: skip
        return True

    async def run_hash(self, request_id: str) -> str | None:
        run = self.db.runs.get(request_id)
        return None if run is None else str(run["content_hash"])

    async def fail_run(self, request_id: str, detail: str) -> None:
        self.db.runs[request_id].update(outcome="FAILED", detail=detail)

    async def lock_period(self, period: Period) -> None:
        return None

    async def ledger_changes(self) -> tuple[int, int]:
        # no change counters: every run scans (the skip is the SQL's, tested on PostgreSQL)
        return (0, 0)

    async def unchanged_since_billed(self, period: Period, changes: tuple[int, int]) -> bool:
        return False

    async def ledger_horizon(self) -> int:
        return 0

    async def written_since(self, period: Period, changes: tuple[int, int]) -> Sequence[str] | None:
        return None  # every run looks at every membership

    async def record_billed(self, period: Period, coverage_changes: int, horizon: int) -> None:
        return None

    async def invoice_history(self, period: Period) -> dict[str, PayerHistory]:
        out: dict[str, PayerHistory] = {}
        for i in self.db.invoices.values():
            if i["period"] == str(period):
                last = out.get(i["payer_code"], PayerHistory())
                out[i["payer_code"]] = PayerHistory(
                    max(last.last_seq, i["seq"]), last.has_regular or i["kind"] == "REGULAR"
                )
        return out

    async def payers(self, period: Period, only: Sequence[str] | None = None) -> list[str]:
        found = {r["payer_code"] for r in self.db.coverage.values() if r["payer_code"]}
        found |= {c["payer_code"] for c in self.db.charges if c["period"] == str(period)}
        return sorted(found)

    def _uncredited(self, period: Period) -> list[dict[str, Any]]:
        return [
            c
            for c in self.db.charges
            if c["period"] == str(period) and c["credit_invoice_no"] is None
        ]

    async def accrue(
        self,
        period: Period,
        tariff: Tariff,
        numbers: Mapping[str, str],
        now: dt.datetime,
        only: Sequence[str] | None = None,
    ) -> dict[str, list[Line]]:
        charged = {c["membership_no"] for c in self._uncredited(period)}
        new = [
            c
            for c in accrue(self.coverage_records(), period, [tariff], charged)
            if c.payer_code in numbers
        ]
        for c in new:
            self.db.charges.append(
                {**dataclasses.asdict(c), "period": str(period),
                 "invoice_no": numbers[c.payer_code], "credit_invoice_no": None}
            )  # fmt: skip
        return _lines((numbers[c.payer_code], c.agency_code, c.funding_source, c.jkk, c.jkm)
                      for c in new)  # fmt: skip

    async def credit(
        self,
        period: Period,
        numbers: Mapping[str, str],
        now: dt.datetime,
        only: Sequence[str] | None = None,
    ) -> dict[str, list[Line]]:
        open_ = [c for c in self._uncredited(period) if c["payer_code"] in numbers]
        gone = set(to_credit(self.coverage_records(), period, {c["membership_no"] for c in open_}))
        credited = [c for c in open_ if c["membership_no"] in gone]
        for c in credited:
            c["credit_invoice_no"] = numbers[c["payer_code"]]
        return _lines((c["credit_invoice_no"], c["agency_code"], c["funding_source"], c["jkk"],
                       c["jkm"]) for c in credited)  # fmt: skip

    async def insert_invoices(
        self, invoices: Sequence[Invoice], request_id: str, issued_at: dt.datetime
    ) -> None:
        for i in invoices:
            self.db.invoices[i.invoice_no] = {
                "invoice": i, "payer_code": i.payer_code, "period": str(i.period), "seq": i.seq,
                "kind": i.kind.value, "request_id": request_id, "status": "ISSUED",
                "paid_at": None,
            }  # fmt: skip

    # payments

    async def payment_state(self, invoice_no: str) -> PaymentState | None:
        row = self.db.invoices.get(invoice_no)
        if row is None:
            return None
        paid = sum(p["amount"] for p in self.db.payments if p["invoice_no"] == invoice_no)
        amount = row["invoice"].totals.amount
        return PaymentState(invoice_no, row["kind"], amount, paid, row["paid_at"])

    async def payment_with_reference(
        self, invoice_no: str, reference: str
    ) -> tuple[int, dt.date] | None:
        for p in self.db.payments:
            if (p["invoice_no"], p["reference"]) == (invoice_no, reference):
                return p["amount"], p["paid_on"]
        return None

    async def add_payment(
        self,
        invoice_no: str,
        amount: int,
        reference: str,
        paid_on: dt.date,
        *,
        settles: bool,
        paid_at: dt.datetime,
    ) -> None:
        if await self.payment_with_reference(invoice_no, reference) is not None:
            raise ValueError(f"payments: ({invoice_no}, {reference}) exists")  # unique key
        self.db.payments.append({"invoice_no": invoice_no, "amount": amount,
                                 "reference": reference, "paid_on": paid_on,
                                 "partial": not settles})  # fmt: skip
        if settles:
            self.db.invoices[invoice_no].update(status="PAID", paid_at=paid_at)

    # reconciliation: the figures a test set (see the module docstring)

    async def agency_counts(self, stale_before: dt.datetime) -> list[AgencyCounts]:
        return list(self.db.figures.agencies)

    async def billed_periods(self) -> list[Period]:
        found = {i["period"] for i in self.db.invoices.values()}
        found |= {c["period"] for c in self.db.charges}
        return [Period.parse(p) for p in sorted(found)]

    async def period_figures(self, period: Period, tariff: Tariff) -> PeriodFigures:
        none = PeriodFigures(str(period), tariff.total, 0, NO_SUMS, NO_SUMS, NO_SUMS, NO_SUMS,
                             0, 0)  # fmt: skip
        return self.db.figures.periods.get(str(period), none)

    async def invoice_figures(
        self, period: Period
    ) -> tuple[dict[str, Sums], dict[InvoiceKey, Sums], dict[InvoiceKey, Sums]]:
        return self.db.figures.invoices.get(str(period), ({}, {}, {}))

    async def ledger_behind(self) -> int:
        return self.db.figures.ledger_behind

    # capacity against the active participants (the regency's counter is the agencies' sum)

    def _active(self) -> dict[str, int]:
        active: dict[str, int] = {}
        for p in self.db.participants.values():
            if p["status"] == "ACTIVE":
                active[p["agency_code"]] = active.get(p["agency_code"], 0) + 1
        return active

    async def capacity_counts(self) -> list[CapacityCount]:
        active, used = self._active(), self.db.capacity
        agencies = [CapacityCount(f"agency:{a}", used.get(a), active.get(a, 0))
                    for a in sorted(active.keys() | used.keys(), reverse=True)]  # fmt: skip
        return [CapacityCount("regency", sum(used.values()), sum(active.values())), *agencies]

    async def recount_capacity(self) -> list[CapacityChange]:
        before, active = dict(self.db.capacity), self._active()
        changes = []
        for a in sorted(active.keys() | before.keys(), reverse=True):
            if before.get(a) != active.get(a, 0):
                self.db.capacity[a] = active.get(a, 0)
                changes.append(CapacityChange(f"agency:{a}", before.get(a), active.get(a, 0)))
        total_before, total = sum(before.values()), sum(active.values())
        if total_before != total:
            changes.insert(0, CapacityChange("regency", total_before, total))
        return changes


def _lines(items: Any) -> dict[str, list[Line]]:
    """(invoice_no, agency, funding, jkk, jkm) per charge → lines per invoice number."""
    sums: dict[tuple[str, str, str], list[int]] = {}
    for invoice_no, agency, funding, jkk, jkm in items:
        total = sums.setdefault((invoice_no, agency, funding), [0, 0, 0])
        total[0] += 1
        total[1] += jkk
        total[2] += jkm
    out: dict[str, list[Line]] = {}
    for (invoice_no, agency, funding), (n, jkk, jkm) in sums.items():
        out.setdefault(invoice_no, []).append(Line(agency, funding, n, jkk, jkm))
    return out
