"""Coverage in whole calendar months, Asia/Jakarta (CONTRACT.md, "Coverage and premium accrual")."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from jamsos.domain.period import Period
from jamsos.domain.policy import CoverageStartRule

JAKARTA = ZoneInfo("Asia/Jakarta")


def local_date(ts: datetime) -> date:
    """The calendar date of `ts` in Asia/Jakarta; `ts` must be timezone-aware."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"timestamp must be timezone-aware, got {ts.isoformat()}")
    return ts.astimezone(JAKARTA).date()


def coverage_start(enrolled_at: datetime, rule: CoverageStartRule) -> date:
    """First covered day: the 1st of the enrolment month (SAME_MONTH) or the next (NEXT_MONTH)."""
    month = Period.of(local_date(enrolled_at))
    if rule is CoverageStartRule.NEXT_MONTH:
        month = month.next()
    return month.first_day


def coverage_end(effective_date: date) -> date:
    """Last covered day of a termination: the last day of the month of `effective_date`."""
    return Period.of(effective_date).last_day


def is_charged(coverage_start: date, coverage_end: date | None, period: Period) -> bool:
    """Whether coverage spans all of `period`, so its premium is charged (the accrual rule)."""
    return coverage_start <= period.first_day and (
        coverage_end is None or coverage_end >= period.last_day
    )
