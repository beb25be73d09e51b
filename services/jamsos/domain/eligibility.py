"""Every rejection reason of a submission that the domain can decide on its own.

Sources: CONTRACT.md reason table (NIK_INVALID, NIK_MISMATCH, OUT_OF_REGION, AGE_OUT_OF_RANGE,
QUOTA_EXCEEDED, DECEASED; "all applicable reasons are listed"); RULES.md (age range 18-65 is an
assumption and a policy setting; the regency ceiling and agency quotas are settings).
Reasons come in a stable order: NIK_INVALID, NIK_MISMATCH, OUT_OF_REGION, AGE_OUT_OF_RANGE,
QUOTA_EXCEEDED, DECEASED.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from jamsos.domain.coverage import local_date
from jamsos.domain.nik import nik_reasons
from jamsos.domain.policy import Agency, Policy
from jamsos.domain.wilayah import find_village
from jamsos_schemas.registration import Reason, ReasonCode, Worker


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on `day`; ValueError if `birth_date` is after `day`.

    Decision: someone born on 29 February turns a year older on 1 March in non-leap years
    (their birthday has not yet passed on 28 February), the common legal reading.
    """
    if birth_date > day:
        raise ValueError(f"birth_date {birth_date.isoformat()} is after {day.isoformat()}")
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def personal_reasons(worker: Worker, submitted_at: datetime, policy: Policy) -> list[Reason]:
    """NIK, region and age reasons for `worker`, judged on the Asia/Jakarta date of submission."""
    reasons = nik_reasons(worker.nik, worker.birth_date, worker.sex)
    village_code = worker.address.village_code
    if find_village(village_code) is None:
        reasons.append(
            Reason(
                code=ReasonCode.OUT_OF_REGION,
                detail=f"village_code {village_code} is not a village of Kabupaten Kudus",
            )
        )
    age_reason = _age_reason(worker.birth_date, local_date(submitted_at), policy)
    if age_reason is not None:
        reasons.append(age_reason)
    return reasons


def _age_reason(birth_date: date, day: date, policy: Policy) -> Reason | None:
    if birth_date > day:
        detail = (
            f"birth_date {birth_date.isoformat()} is after the submission date {day.isoformat()}"
        )
        return Reason(code=ReasonCode.AGE_OUT_OF_RANGE, detail=detail)
    age = age_on(birth_date, day)
    if policy.min_age <= age <= policy.max_age:
        return None
    detail = (
        f"age {age} on {day.isoformat()} is outside {policy.min_age}-{policy.max_age} inclusive"
    )
    return Reason(code=ReasonCode.AGE_OUT_OF_RANGE, detail=detail)


class Capacity:
    """Active participants per agency and in the regency, checked against quotas and ceiling."""

    def __init__(
        self, active_by_agency: Mapping[str, int], active_total: int, policy: Policy
    ) -> None:
        self._by_agency = dict(active_by_agency)
        self._total = active_total
        self._policy = policy
        self.taken: dict[str, int] = {}  # places taken since, per agency code

    def reasons(self, agency: Agency) -> list[Reason]:
        """[QUOTA_EXCEEDED] if the agency's quota or the regency ceiling is full, else []."""
        details: list[str] = []
        active = self._by_agency.get(agency.code, 0)
        if agency.quota is not None and active >= agency.quota:
            details.append(
                f"agency {agency.code} quota of {agency.quota} is full ({active} active)"
            )
        if self._total >= self._policy.ceiling:
            details.append(
                f"regency ceiling of {self._policy.ceiling} active participants is full"
                f" ({self._total} active)"
            )
        if not details:
            return []
        return [Reason(code=ReasonCode.QUOTA_EXCEEDED, detail="; ".join(details))]

    def take(self, agency: Agency) -> None:
        """Count one more active participant for `agency` and the regency."""
        self._by_agency[agency.code] = self._by_agency.get(agency.code, 0) + 1
        self._total += 1
        self.taken[agency.code] = self.taken.get(agency.code, 0) + 1

    def active(self, agency: Agency) -> int:
        """Active participants counted for `agency`."""
        return self._by_agency.get(agency.code, 0)

    @property
    def active_total(self) -> int:
        """Active participants counted in the regency."""
        return self._total


def unknown_agency(code: str) -> Reason:
    """UNKNOWN_AGENCY: `code` is not in the agency registry."""
    return Reason(code=ReasonCode.UNKNOWN_AGENCY, detail=f"agency {code!r} is not registered")


def deceased_reason() -> Reason:
    """DECEASED: the NIK's coverage was terminated because the person died. The detail does
    not repeat the NIK: it is the submission's own, and reasons travel to logs, result files
    and the rejected topic (README, "Personal data")."""
    return Reason(code=ReasonCode.DECEASED, detail="this NIK was terminated as deceased")
