"""Every PostgreSQL advisory lock jamsos takes, in one registry so that no two share an id."""

from __future__ import annotations

from enum import IntEnum, unique


@unique
class AdvisoryLock(IntEnum):
    """Advisory lock ids (the first key where a lock takes two)."""

    MIGRATION = 7_301_901  # session lock: one migrator at a time
    RELAY = 7_301_902  # session lock: one outbox sweeper at a time across all processes
    # 7_301_903 was the enrolment lock, replaced by capacity rows (adapters/capacity.py)
    BILLING_PERIOD = 7_301_904  # with the period as second key: one billing run per period
