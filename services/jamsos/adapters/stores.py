"""The use cases' stores (usecases/ports.py) on PostgreSQL: one class that implements every
port by calling the SQL modules on its transaction's connection."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from jamsos.adapters import (
    accrual,
    audit,
    billing_runs,
    capacity,
    coverage_ledger,
    dead_letters,
    inbox,
    invoices,
    nik_claims,
    outbox,
    participants,
    reconciliation,
    submissions,
    tariff_table,
    terminations,
)
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
from jamsos.domain.tariff import Tariff
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
)

Committed = Callable[[Sequence[outbox.Staged]], Awaitable[None]]


@dataclass
class PostgresUnitOfWork:
    """A transaction on a pooled connection per `transaction()` block. After the commit (and
    after the connection went back to the pool) the outbox rows it inserted go to `committed`,
    the process's publisher; without one they wait for the sweeper."""

    pool: asyncpg.Pool
    committed: Committed | None = None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresStore]:
        """Commit when the block ends, roll back when it raises."""
        async with self.pool.acquire() as conn:
            store = PostgresStore(conn)
            async with conn.transaction():
                yield store
        if self.committed is not None and store.staged:
            await self.committed(store.staged)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[PostgresStore]:
        """A read-only REPEATABLE READ transaction: every query sees one snapshot."""
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield PostgresStore(conn)


@dataclass(frozen=True)
class PostgresStore:
    """Every port, on one connection inside its transaction."""

    conn: asyncpg.Connection
    staged: list[outbox.Staged] = field(default_factory=list)  # outbox rows inserted

    async def add_dead_letters(self, letters: Sequence[DeadLetter], failed_at: dt.datetime) -> None:
        await dead_letters.add_dead_letters(self.conn, letters, failed_at)

    async def add_events(self, events: Sequence[OutboxEvent]) -> None:
        self.staged.extend(await outbox.add(self.conn, events))

    async def claim_messages(
        self, consumer: str, messages: Mapping[str, str], now: dt.datetime
    ) -> set[str]:
        return await inbox.claim(self.conn, consumer, messages, now)

    async def message_hashes(self, consumer: str, ids: Sequence[str]) -> dict[str, str]:
        return await inbox.content_hashes(self.conn, consumer, ids)

    async def insert_submissions(
        self, rows: Sequence[NewSubmission], received_at: dt.datetime
    ) -> set[Identity]:
        return await submissions.insert_submissions(self.conn, rows, received_at)

    async def submission_hashes(self, ids: Sequence[Identity]) -> dict[Identity, str]:
        return await submissions.content_hashes(self.conn, ids)

    async def claim_niks(self, claims: Sequence[Claim], claimed_at: dt.datetime) -> set[Identity]:
        return await nik_claims.claim_niks(self.conn, claims, claimed_at)

    async def claim_holders(self, niks: Sequence[str]) -> dict[str, Holder]:
        return await nik_claims.claim_holders(self.conn, niks)

    async def record_decisions(
        self, decisions: Sequence[Decision], decided_at: dt.datetime
    ) -> None:
        await submissions.record_decisions(self.conn, decisions, decided_at)

    async def release_claims(self, ids: Sequence[Identity]) -> None:
        await nik_claims.release_claims(self.conn, ids)

    async def capacity(self, agencies: Sequence[str], lock: bool) -> tuple[dict[str, int], int]:
        return await capacity.places(self.conn, agencies, lock)

    async def use_capacity(
        self, deltas: Mapping[str, int], quotas: Mapping[str, int | None], ceiling: int | None
    ) -> bool:
        return await capacity.use(self.conn, deltas, quotas, ceiling)

    async def deceased(self, niks: Sequence[str]) -> set[str]:
        return await participants.deceased(self.conn, niks)

    async def known_participants(
        self, niks: Sequence[str]
    ) -> dict[str, tuple[str, dt.datetime | None]]:
        return await participants.known_participants(self.conn, niks)

    async def next_serials(self, count: int) -> list[int]:
        return await participants.next_serials(self.conn, count)

    async def tariffs(self) -> list[Tariff]:
        return await tariff_table.tariffs(self.conn)

    async def upsert_participants(self, rows: Sequence[Enrolment]) -> None:
        await participants.upsert_participants(self.conn, rows)

    async def pending(self, ids: Sequence[Identity]) -> set[Identity]:
        return await submissions.pending(self.conn, ids)

    async def lock_groups(self, groups: Sequence[Group]) -> None:
        await participants.lock_groups(self.conn, groups)

    async def active_in_groups(self, groups: Sequence[Group]) -> list[Participant]:
        return await participants.active_in_groups(self.conn, groups)

    async def record_candidates(
        self, held: Sequence[tuple[Identity, list[dict[str, Any]]]]
    ) -> None:
        await submissions.record_candidates(self.conn, held)

    async def held(self, ids: Sequence[Identity]) -> dict[Identity, Held]:
        return await submissions.held(self.conn, ids)

    async def set_reviewer(self, ids: Sequence[tuple[Identity, str]]) -> None:
        await submissions.set_reviewer(self.conn, ids)

    async def add_audit(self, entries: Sequence[AuditEntry], at: dt.datetime) -> None:
        await audit.add(self.conn, entries, at)

    async def participant_states(self, niks: Sequence[str]) -> dict[str, ParticipantState]:
        return await terminations.participants(self.conn, niks)

    async def release_participant_claims(self, niks: Sequence[str]) -> None:
        await terminations.release_claims(self.conn, niks)

    async def write_states(self, states: Sequence[ParticipantState]) -> None:
        await terminations.write_states(self.conn, states)

    async def log_requests(self, rows: Sequence[LoggedRequest], decided_at: dt.datetime) -> None:
        await terminations.log_requests(self.conn, rows, decided_at)

    async def record_enrolments(self, rows: Enrolments, now: dt.datetime) -> int:
        return await coverage_ledger.record_enrolments(self.conn, rows, now)

    async def claim_events(self, ids: Sequence[uuid.UUID], now: dt.datetime) -> set[uuid.UUID]:
        return await coverage_ledger.claim_events(self.conn, ids, now)

    async def record_terminations(self, rows: Sequence[Terminated]) -> None:
        await coverage_ledger.record_terminations(self.conn, rows)

    async def begin_run(
        self,
        request_id: str,
        content_hash: str,
        period: Period,
        requested_at: dt.datetime,
        now: dt.datetime,
    ) -> bool:
        return await billing_runs.begin_run(
            self.conn, request_id, content_hash, period, requested_at, now
        )

    async def run_hash(self, request_id: str) -> str | None:
        return await billing_runs.run_hash(self.conn, request_id)

    async def fail_run(self, request_id: str, detail: str) -> None:
        await billing_runs.fail_run(self.conn, request_id, detail)

    async def lock_period(self, period: Period) -> None:
        await accrual.lock_period(self.conn, period)

    async def ledger_changes(self) -> tuple[int, int]:
        return await accrual.ledger_changes(self.conn)

    async def unchanged_since_billed(self, period: Period, changes: tuple[int, int]) -> bool:
        return await accrual.unchanged_since_billed(self.conn, period, changes)

    async def ledger_horizon(self) -> int:
        return await accrual.horizon(self.conn)

    async def written_since(self, period: Period, changes: tuple[int, int]) -> Sequence[str] | None:
        return await accrual.written_since(self.conn, period, changes)

    async def record_billed(self, period: Period, coverage_changes: int, horizon: int) -> None:
        await accrual.record_billed(self.conn, period, coverage_changes, horizon)

    async def invoice_history(self, period: Period) -> dict[str, PayerHistory]:
        return await invoices.invoice_history(self.conn, period)

    async def payers(self, period: Period, only: Sequence[str] | None = None) -> list[str]:
        return await accrual.payers(self.conn, period, only)

    async def accrue(
        self,
        period: Period,
        tariff: Tariff,
        numbers: Mapping[str, str],
        now: dt.datetime,
        only: Sequence[str] | None = None,
    ) -> dict[str, list[Line]]:
        return await accrual.accrue(self.conn, period, tariff, numbers, now, only)

    async def credit(
        self,
        period: Period,
        numbers: Mapping[str, str],
        now: dt.datetime,
        only: Sequence[str] | None = None,
    ) -> dict[str, list[Line]]:
        return await accrual.credit(self.conn, period, numbers, now, only)

    async def insert_invoices(
        self, invoices: Sequence[Invoice], request_id: str, issued_at: dt.datetime
    ) -> None:
        await _insert_invoices(self.conn, invoices, request_id, issued_at)

    async def payment_state(self, invoice_no: str) -> PaymentState | None:
        return await invoices.payment_state(self.conn, invoice_no)

    async def payment_with_reference(
        self, invoice_no: str, reference: str
    ) -> tuple[int, dt.date] | None:
        return await invoices.payment_with_reference(self.conn, invoice_no, reference)

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
        await invoices.add_payment(
            self.conn, invoice_no, amount, reference, paid_on, settles=settles, paid_at=paid_at
        )

    async def agency_counts(self, stale_before: dt.datetime) -> list[AgencyCounts]:
        return await reconciliation.agency_counts(self.conn, stale_before)

    async def billed_periods(self) -> list[Period]:
        return await reconciliation.billed_periods(self.conn)

    async def period_figures(self, period: Period, tariff: Tariff) -> PeriodFigures:
        return await reconciliation.period_figures(self.conn, period, tariff)

    async def invoice_figures(
        self, period: Period
    ) -> tuple[dict[str, Sums], dict[InvoiceKey, Sums], dict[InvoiceKey, Sums]]:
        return await reconciliation.invoice_figures(self.conn, period)

    async def ledger_behind(self) -> int:
        return await coverage_ledger.ledger_behind(self.conn)

    async def capacity_counts(self) -> list[CapacityCount]:
        return await reconciliation.capacity_counts(self.conn)

    async def recount_capacity(self) -> list[CapacityChange]:
        return await capacity.recount(self.conn)


# the method parameter `invoices` shadows the module inside that method
_insert_invoices = invoices.insert_invoices
