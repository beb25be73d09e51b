"""`jamsos reconcile`'s figures and mismatches as console tables (also the demo's), with what
to do about the mismatches that have a known remedy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from jamsos.cli.common import console
from jamsos.indonesian import rupiah

if TYPE_CHECKING:
    from jamsos.usecases import reconciliation


def print_reconciliation(result: reconciliation.Reconciliation) -> None:
    """The reconciliation's figures and mismatches as tables."""
    agencies = Table(
        "agency",
        "submitted",
        "enrolled",
        "duplicate",
        "rejected",
        "held",
        "in flight",
        "with outcome event",
        title="submitted = enrolled + duplicate + rejected + held (+ in flight)",
    )
    for a in result.agencies:
        agencies.add_row(
            a.agency_code,
            *(
                f"{v:,}"
                for v in (
                    a.submitted,
                    a.enrolled,
                    a.duplicate,
                    a.rejected,
                    a.held,
                    a.in_flight,
                    a.with_outcome_event,
                )
            ),
        )
    console.print(agencies)
    periods = Table(
        "period",
        "covered",
        "× tariff",
        "charge lines",
        "credited",
        "invoiced",
        "credit notes",
        "net",
        title="Σ charge lines = Σ invoice totals − credits = covered × tariff",
    )
    for p in result.periods:
        periods.add_row(
            p.period,
            f"{p.covered:,}",
            rupiah(p.covered * p.tariff_total),
            rupiah(p.charged.amount),
            rupiah(p.credited.amount),
            rupiah(p.debit_invoices.amount),
            rupiah(p.credit_invoices.amount),
            rupiah(p.debit_invoices.amount + p.credit_invoices.amount),
        )
    console.print(periods)
    if not result.mismatches:
        console.print(
            f"[green]reconciled[/green]: {len(result.agencies)} agencies,"
            f" {len(result.periods)} period(s), billing ledger in step",
            highlight=False,
        )
        return
    table = Table("where", "check", "expected", "actual", title="[red]Mismatches[/red]")
    for m in result.mismatches:
        table.add_row(m.scope, m.check, f"{m.expected:,}", f"{m.actual:,}")
    console.print(table)
    print_hints(result)


def print_hints(result: reconciliation.Reconciliation) -> None:
    """What to do about the mismatches that have a known remedy."""
    if any(m.scope.startswith("capacity ") for m in result.mismatches):
        console.print(
            "[yellow]to do[/yellow]: capacity counters differ from the active participants:"
            " run `jamsos ops capacity recount` (safe while the services run; audited)",
            highlight=False,
        )
    if result.ledger_behind:
        console.print(
            f"[yellow]to do[/yellow]: the billing ledger lacks {result.ledger_behind:,}"
            " participant(s): let the billing service (`jamsos run billing`) catch up, then"
            " run `jamsos reconcile` again",
            highlight=False,
        )
    for period, uncharged, uncovered in result.bill_again:
        what = []
        if uncharged:
            what.append(f"{uncharged:,} covered participant(s) not charged yet")
        if uncovered:
            what.append(f"{uncovered:,} charged participant(s) no longer covered")
        console.print(
            f"[yellow]to do[/yellow]: period {period}: {' and '.join(what)}:"
            f" run `jamsos bill {period}` (it issues only the difference)",
            highlight=False,
        )
