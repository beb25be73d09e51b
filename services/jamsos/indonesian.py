"""Numbers and money the Indonesian way, for every text a clerk or finance officer reads
(console tables, PDF invoices, report warnings)."""

from __future__ import annotations


def rupiah(amount: int) -> str:
    """Whole Rupiah the Indonesian way: Rp16.800, -Rp16.800."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")


def number(value: int) -> str:
    """A count with Indonesian thousands separators: 26.000."""
    return f"{value:,}".replace(",", ".")
