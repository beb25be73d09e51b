"""The stores the use cases write through, one small interface per use case, and the unit of
work that opens one transaction around them.

adapters/stores.py implements every interface on PostgreSQL (one class, delegating to the SQL
modules); tests/fakes.py implements them in memory for the unit tests of the use cases.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

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

S_co = TypeVar("S_co", covariant=True)


class UnitOfWork(Protocol[S_co]):
    """Opens a transaction: commits when the block ends normally, rolls back when it raises."""

    def transaction(self) -> AbstractAsyncContextManager[S_co]:
        """A store bound to a new transaction."""
        ...


class Snapshots(Protocol[S_co]):
    """Opens a read-only transaction in which every read sees the same instant."""

    def snapshot(self) -> AbstractAsyncContextManager[S_co]:
        """A store bound to a new read-only, consistent transaction."""
        ...


class DeadLetterStore(Protocol):
    """Dead letters and outgoing events, written with the change that caused them."""

    async def add_dead_letters(self, letters: Sequence[DeadLetter], failed_at: dt.datetime) -> None:
        """Keep dead letters (an event id already kept is skipped)."""

    async def add_events(self, events: Sequence[OutboxEvent]) -> None:
        """Put events in the outbox (an event id already there is skipped)."""


class AuditStore(Protocol):
    """The audit log: who decided what, in the transaction of the change it records."""

    async def add_audit(self, entries: Sequence[AuditEntry], at: dt.datetime) -> None:
        """Append audit entries."""


class InboxStore(Protocol):
    """The generic inbox: one row per processed command or event, keyed by its identity."""

    async def claim_messages(
        self, consumer: str, messages: Mapping[str, str], now: dt.datetime
    ) -> set[str]:
        """Record `messages` (id → content hash); returns the ids that were new."""

    async def message_hashes(self, consumer: str, ids: Sequence[str]) -> dict[str, str]:
        """The stored content hash of each id already processed by `consumer`."""


class RegistrationStore(DeadLetterStore, Protocol):
    """What registration needs: submissions as its inbox, and the NIK claims."""

    async def insert_submissions(
        self, rows: Sequence[NewSubmission], received_at: dt.datetime
    ) -> set[Identity]:
        """Record submissions as RECEIVED; returns the identities that were new."""

    async def submission_hashes(self, ids: Sequence[Identity]) -> dict[Identity, str]:
        """The stored content hash of each known identity."""

    async def claim_niks(self, claims: Sequence[Claim], claimed_at: dt.datetime) -> set[Identity]:
        """Claim NIKs in order (first claim of a free NIK wins); returns the winners."""

    async def claim_holders(self, niks: Sequence[str]) -> dict[str, Holder]:
        """The current holder of each claimed NIK."""

    async def record_decisions(
        self, decisions: Sequence[Decision], decided_at: dt.datetime
    ) -> None:
        """Set the outcome of submissions not decided yet (in flight or held)."""


class EnrolmentStore(DeadLetterStore, Protocol):
    """What deciding enrolments needs (verification and review decisions)."""

    async def lock_groups(self, groups: Sequence[Group]) -> None:
        """Hold these look-alike groups until the commit: a concurrent batch comparing a
        worker of one of them waits, then sees this batch's enrolments."""

    async def capacity(self, agencies: Sequence[str], lock: bool) -> tuple[dict[str, int], int]:
        """Places used (active participants) by these agencies and in the regency; with
        `lock`, their rows stay locked until the transaction ends."""

    async def use_capacity(
        self, deltas: Mapping[str, int], quotas: Mapping[str, int | None], ceiling: int | None
    ) -> bool:
        """Take (or, negative, free) places per agency and their sum in the regency, each only
        within its limit; False if a limit would be passed (the caller rolls back)."""

    async def deceased(self, niks: Sequence[str]) -> set[str]:
        """The NIKs among these terminated as deceased."""

    async def known_participants(
        self, niks: Sequence[str]
    ) -> dict[str, tuple[str, dt.datetime | None]]:
        """Membership number and last termination of known NIKs."""

    async def next_serials(self, count: int) -> list[int]:
        """`count` fresh membership serials."""

    async def tariffs(self) -> list[Tariff]:
        """The effective-dated tariff table."""

    async def upsert_participants(self, rows: Sequence[Enrolment]) -> None:
        """Insert participants; re-activate terminated ones keeping their membership number."""

    async def record_decisions(
        self, decisions: Sequence[Decision], decided_at: dt.datetime
    ) -> None:
        """Set the outcome of submissions not decided yet (in flight or held)."""

    async def release_claims(self, ids: Sequence[Identity]) -> None:
        """Free the NIKs held by these submissions."""


class VerificationStore(EnrolmentStore, Protocol):
    """What verification needs on top of deciding enrolments."""

    async def pending(self, ids: Sequence[Identity]) -> set[Identity]:
        """The identities still RECEIVED, locked for this transaction."""

    async def active_in_groups(self, groups: Sequence[Group]) -> list[Participant]:
        """Active participants of any of these look-alike groups (birth date, sex, village)."""

    async def record_candidates(
        self, held: Sequence[tuple[Identity, list[dict[str, Any]]]]
    ) -> None:
        """Keep the look-alikes a held submission was matched with."""


class ReviewStore(EnrolmentStore, InboxStore, AuditStore, Protocol):
    """What review decisions need on top of deciding enrolments."""

    async def held(self, ids: Sequence[Identity]) -> dict[Identity, Held]:
        """The submissions among `ids` still held for review, locked."""

    async def set_reviewer(self, ids: Sequence[tuple[Identity, str]]) -> None:
        """Record who resolved each hold."""


class TerminationStore(DeadLetterStore, InboxStore, Protocol):
    """What terminations need."""

    async def use_capacity(
        self, deltas: Mapping[str, int], quotas: Mapping[str, int | None], ceiling: int | None
    ) -> bool:
        """Free places (negative deltas) per agency and in the regency."""

    async def participant_states(self, niks: Sequence[str]) -> dict[str, ParticipantState]:
        """The participants with these NIKs, locked."""

    async def release_participant_claims(self, niks: Sequence[str]) -> None:
        """Free the NIK claims of these participants' own enrolments."""

    async def write_states(self, states: Sequence[ParticipantState]) -> None:
        """Store the status and termination columns of these participants."""

    async def log_requests(self, rows: Sequence[LoggedRequest], decided_at: dt.datetime) -> None:
        """Keep each processed request for audit."""


class LedgerStore(DeadLetterStore, Protocol):
    """What the billing ledger needs. Its inbox is its own: the ids of the participant events
    it applied, an enrolment's in its coverage row while it is the row's latest, the others in
    `ledger_events` (migrations 0016, 0019)."""

    async def record_enrolments(self, rows: Enrolments, now: dt.datetime) -> int:
        """Record each enrolment once per event id (a redelivered id is a repeat) and, for
        those that were new, fill the enrolment side of their coverage period unless a later
        enrolment is there (of several for one period, the latest; on a tie the first).
        Returns how many were new. The ids must be distinct."""

    async def claim_events(self, ids: Sequence[uuid.UUID], now: dt.datetime) -> set[uuid.UUID]:
        """Claim event ids in the ledger's inbox; returns those that were new."""

    async def record_terminations(self, rows: Sequence[Terminated]) -> None:
        """Fill the termination side of coverage rows unless a later one is there."""


class BillingStore(DeadLetterStore, Protocol):
    """What a billing run needs. Accrual and credit are set-based statements in PostgreSQL;
    the fake computes them with the domain rule (domain/accrual.py)."""

    async def begin_run(
        self,
        request_id: str,
        content_hash: str,
        period: Period,
        requested_at: dt.datetime,
        now: dt.datetime,
    ) -> bool:
        """Record a run request as DONE; False if already seen."""

    async def run_hash(self, request_id: str) -> str | None:
        """The content hash of a recorded run request."""

    async def fail_run(self, request_id: str, detail: str) -> None:
        """Mark a recorded run request as FAILED, with why."""

    async def tariffs(self) -> list[Tariff]:
        """The effective-dated tariff table."""

    async def lock_period(self, period: Period) -> None:
        """Serialise billing of one period until the transaction ends."""

    async def ledger_changes(self) -> tuple[int, int]:
        """The coverage and charges change counters now."""

    async def unchanged_since_billed(self, period: Period, changes: tuple[int, int]) -> bool:
        """Whether nothing was written to coverage or charges since `period`'s last run."""

    async def ledger_horizon(self) -> int:
        """The oldest transaction still running now: older writes are visible to this run."""

    async def written_since(self, period: Period, changes: tuple[int, int]) -> Sequence[str] | None:
        """If only coverage rows were inserted or updated since `period`'s last run, the
        memberships they belong to (a run may look at those alone); None: look at all."""

    async def record_billed(self, period: Period, coverage_changes: int, horizon: int) -> None:
        """Remember the counters and the horizon a completed run of `period` leaves."""

    async def invoice_history(self, period: Period) -> dict[str, PayerHistory]:
        """Per payer: the last invoice sequence of `period` and whether a REGULAR one exists."""

    async def payers(self, period: Period, only: Sequence[str] | None = None) -> list[str]:
        """Every payer that may be charged or credited for `period` (for the memberships in
        `only`, if given)."""

    async def accrue(
        self,
        period: Period,
        tariff: Tariff,
        numbers: Mapping[str, str],
        now: dt.datetime,
        only: Sequence[str] | None = None,
    ) -> dict[str, list[Line]]:
        """Charge every covered, uncharged membership once (of those in `only`, if
        given); new lines per invoice number."""

    async def credit(
        self,
        period: Period,
        numbers: Mapping[str, str],
        now: dt.datetime,
        only: Sequence[str] | None = None,
    ) -> dict[str, list[Line]]:
        """Credit every charge no coverage covers any more (of the memberships in
        `only`, if given); credited lines per note number."""

    async def insert_invoices(
        self, invoices: Sequence[Invoice], request_id: str, issued_at: dt.datetime
    ) -> None:
        """Store invoices and their lines."""


class PaymentStore(AuditStore, Protocol):
    """What recording a payment needs (`jamsos invoice pay`)."""

    async def payment_state(self, invoice_no: str) -> PaymentState | None:
        """The invoice's kind, amount and payments so far, locked; None if there is none."""

    async def payment_with_reference(
        self, invoice_no: str, reference: str
    ) -> tuple[int, dt.date] | None:
        """(amount, paid_on) of the payment already recorded under `reference`, if any."""

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
        """Record a payment; the one that settles the balance marks the invoice PAID."""


class CapacityStore(AuditStore, Protocol):
    """What `jamsos ops capacity recount` needs."""

    async def recount_capacity(self) -> list[CapacityChange]:
        """Set every capacity counter to the active participants of its scope, under the rows'
        locks (missing rows created); the counters that changed."""


class ReconciliationStore(Protocol):
    """What `jamsos reconcile` reads. Each figure is one set-based query in PostgreSQL
    (adapters/reconciliation.py); the checks on them are domain/reconciliation.py."""

    async def agency_counts(self, stale_before: dt.datetime) -> list[AgencyCounts]:
        """Submissions per agency by status, and how many have their outcome event."""

    async def tariffs(self) -> list[Tariff]:
        """The effective-dated tariff table."""

    async def billed_periods(self) -> list[Period]:
        """Every period with charges or invoices."""

    async def period_figures(self, period: Period, tariff: Tariff) -> PeriodFigures:
        """Coverage, charges, credits and invoices of one period, each from its own table."""

    async def invoice_figures(
        self, period: Period
    ) -> tuple[dict[str, Sums], dict[InvoiceKey, Sums], dict[InvoiceKey, Sums]]:
        """Invoice totals, invoice lines, and charges grouped as lines (negated on credit
        notes)."""

    async def ledger_behind(self) -> int:
        """Participants whose current coverage the billing ledger lacks."""

    async def capacity_counts(self) -> list[CapacityCount]:
        """Every capacity counter beside the active participants of its scope."""
