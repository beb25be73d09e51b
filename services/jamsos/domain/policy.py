"""Policy settings and the agency registry as values.

Sources: CONTRACT.md (defaults); RULES.md (the 18-65 age range is an assumption).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class CoverageStartRule(StrEnum):
    """When coverage starts relative to the enrolment date (Asia/Jakarta)."""

    NEXT_MONTH = "NEXT_MONTH"  # contract default: first day of the month after enrolment
    SAME_MONTH = "SAME_MONTH"  # first day of the month of enrolment


@dataclass(frozen=True)
class Agency:
    """An OPD that may propose workers, and who pays for them from which budget."""

    code: str
    name: str
    sector: str
    payer_code: str
    funding_source: str
    quota: int | None = None
    # PEM Ed25519 public keys (config file and JAMSOS_AGENCY_KEYS_DIR): several while a key is
    # rotated. CONTRACT.md, "Agency signatures (v1)".
    public_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """Eligibility and coverage settings; defaults follow CONTRACT.md and RULES.md."""

    min_age: int = 18
    max_age: int = 65
    ceiling: int = 26_000
    target: int = 26_000
    coverage_start_rule: CoverageStartRule = CoverageStartRule.NEXT_MONTH
    agencies: tuple[Agency, ...] = field(default_factory=tuple)
    # JAMSOS_REQUIRE_SIGNATURES: submissions and termination requests must be signed by the
    # agency they name (off in development, on in the production compose).
    require_signatures: bool = False

    def agency(self, code: str) -> Agency | None:
        """The registered agency with this code, if any."""
        for agency in self.agencies:
            if agency.code == code:
                return agency
        return None
